"""The ticket lifecycle: statuses, and the named transitions that alone may change them.

Pure rules, no storage: ``plan_transition`` says whether an action is allowed for
a role on a ticket in a given status and which status follows, or raises
`TransitionRefused` with a message an operator can act on. The storage layer
(gateway/tickets/service.py) applies the answer and writes the audit event in the
same transaction. Keeping the table here, apart from any Flask or SQL code, lets
the inbox, the API and the sweep share one definition of who may do what, and
lets the tests read it like a table (see mysociety/fixmystreet's open/closed state
groups for the idea).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

# --------------------------------------------------------------------------- statuses
UNVERIFIED: Final = "unverified"
DEFERRED: Final = "deferred"
DISPATCHED: Final = "dispatched"
IN_PROGRESS: Final = "in_progress"
RESOLVED: Final = "resolved"
ARCHIVED: Final = "archived"

STATUSES: Final = (UNVERIFIED, DEFERRED, DISPATCHED, IN_PROGRESS, RESOLVED, ARCHIVED)
#: Someone still has to act: the coordinator, the citizen or the agency.
OPEN_STATUSES: Final = frozenset({UNVERIFIED, DEFERRED, DISPATCHED, IN_PROGRESS})
#: Done from the operators' side (a resolved ticket can still be reopened by the citizen).
CLOSED_STATUSES: Final = frozenset({RESOLVED, ARCHIVED})
#: Not yet handed to an agency: agency operators do not see tickets in these.
PRE_DISPATCH_STATUSES: Final = frozenset({UNVERIFIED, DEFERRED})

# --------------------------------------------------------------------------- roles
ADMIN: Final = "admin"
COORDINATOR: Final = "coordinator"
AGENCY: Final = "agency"
CITIZEN: Final = "citizen"
SYSTEM: Final = "system"
API_ALL: Final = "api-all"
API_AGENCY: Final = "api-agency"
ROLES: Final = frozenset({ADMIN, COORDINATOR, AGENCY, CITIZEN, SYSTEM, API_ALL, API_AGENCY})
#: Roles bound to one agency: they act only on that agency's dispatched tickets.
AGENCY_BOUND_ROLES: Final = frozenset({AGENCY, API_AGENCY})
#: Roles that act for the whole city (an unscoped API token counts as a coordinator).
CITY_ROLES: Final = frozenset({ADMIN, COORDINATOR, API_ALL})

# --------------------------------------------------------------------------- actions
DISPOSE: Final = "dispose"  # verify and send to an agency
DEFER: Final = "defer"  # ask the citizen for details
ANSWER: Final = "answer"  # the citizen answered a deferred ticket
NOT_OUR_AUTHORITY: Final = "not_our_authority"  # "bukan wewenang": back to the coordinator
START: Final = "start"
RESOLVE: Final = "resolve"
ARCHIVE: Final = "archive"
REOPEN: Final = "reopen"
CLOSE: Final = "close"  # a resolved ticket past its reply window: stays resolved, closed for good

#: Why a ticket may be archived; the labels citizens read live in config/lifecycle.yaml.
ARCHIVE_REASONS: Final = ("too_general", "not_public_service", "duplicate", "not_responding", "other")


@dataclass(frozen=True)
class Transition:
    """One named action: where it may start, where it leads, who may do it, what it needs."""

    action: str
    from_statuses: frozenset[str]
    to_status: str | None  # None: decided by `plan_transition` (reopen)
    roles: frozenset[str]
    required: tuple[str, ...] = ()
    #: The citizen hears about it (the notification key is the new status, or "reopened").
    notify: bool = True


def _t(
    action: str,
    froms: set[str],
    to: str | None,
    roles: set[str],
    required: tuple[str, ...] = (),
    notify: bool = True,
) -> Transition:
    return Transition(action, frozenset(froms), to, frozenset(roles), required, notify)


_OPERATORS = {ADMIN, COORDINATOR, AGENCY, API_ALL, API_AGENCY}

TRANSITIONS: Final[Mapping[str, Transition]] = {
    t.action: t
    for t in (
        _t(DISPOSE, {UNVERIFIED, DEFERRED}, DISPATCHED, {ADMIN, COORDINATOR, API_ALL, SYSTEM}, ("agency",)),
        _t(DEFER, {UNVERIFIED}, DEFERRED, {ADMIN, COORDINATOR, API_ALL}, ("note",)),
        _t(ANSWER, {DEFERRED}, UNVERIFIED, {CITIZEN, SYSTEM, ADMIN, COORDINATOR, API_ALL}, notify=False),
        _t(NOT_OUR_AUTHORITY, {DISPATCHED, IN_PROGRESS}, UNVERIFIED, _OPERATORS, ("note",), notify=False),
        _t(START, {DISPATCHED}, IN_PROGRESS, _OPERATORS),
        _t(RESOLVE, {DISPATCHED, IN_PROGRESS}, RESOLVED, _OPERATORS, ("note",)),
        _t(
            ARCHIVE,
            {UNVERIFIED, DEFERRED, DISPATCHED, IN_PROGRESS},
            ARCHIVED,
            {ADMIN, COORDINATOR, API_ALL, SYSTEM},
            ("reason",),
        ),
        _t(REOPEN, {RESOLVED, ARCHIVED}, None, {ADMIN, COORDINATOR, API_ALL, CITIZEN, SYSTEM}),
        _t(CLOSE, {RESOLVED}, RESOLVED, {SYSTEM, ADMIN}, notify=False),
    )
}

#: A status asked for by the API ("status": "in_progress") -> the action that leads there,
#: per current status. Statuses reached by several actions depend on where the ticket is.
_STATUS_TO_ACTION: Final[Mapping[str, Mapping[str, str]]] = {
    DISPATCHED: {UNVERIFIED: DISPOSE, DEFERRED: DISPOSE, RESOLVED: REOPEN, ARCHIVED: REOPEN},
    DEFERRED: {UNVERIFIED: DEFER},
    UNVERIFIED: {
        DISPATCHED: NOT_OUR_AUTHORITY,
        IN_PROGRESS: NOT_OUR_AUTHORITY,
        DEFERRED: ANSWER,
        RESOLVED: REOPEN,
        ARCHIVED: REOPEN,
    },
    IN_PROGRESS: {DISPATCHED: START},
    RESOLVED: {DISPATCHED: RESOLVE, IN_PROGRESS: RESOLVE},
    ARCHIVED: {UNVERIFIED: ARCHIVE, DEFERRED: ARCHIVE, DISPATCHED: ARCHIVE, IN_PROGRESS: ARCHIVE},
}


class TransitionRefused(Exception):
    """The action is not allowed; ``code`` says why, the message says what to do instead.

    Codes: ``unknown_action``, ``forbidden`` (role or agency), ``invalid_transition``
    (not from this status), ``missing_argument``, ``invalid_argument``.

    ``message`` is English and stays as it is: the JSON API returns it to
    integrators. People read ``key`` instead: the text of ``refusal.<key>`` in the
    inbox catalogs (config/messages/inbox_<lang>.yaml), filled with ``params``.
    Params that are codes (a status, role, action, field, privacy level or archive
    reason) are passed as codes, so each language shows its own name for them.
    Every raise site passes a literal key and a literal ``params`` dict, which
    tests/tickets/test_refusal_texts.py checks against both catalogs.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        key: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.key = key
        self.params: dict[str, Any] = dict(params or {})


def action_for(current: str, requested: str) -> str:
    """The action an API request names: an action itself, or the status it wants to reach."""
    if requested in TRANSITIONS:
        return requested
    if requested not in STATUSES:
        raise TransitionRefused(
            "unknown_action",
            f"unknown status or action {requested!r}; statuses: {', '.join(STATUSES)}; "
            f"actions: {', '.join(TRANSITIONS)}",
            key="unknown_status_or_action",
            params={"requested": requested},
        )
    if requested == current:
        raise TransitionRefused(
            "invalid_transition",
            f"the ticket is already {current}",
            key="already_in_status",
            params={"status": current},
        )
    action = _STATUS_TO_ACTION.get(requested, {}).get(current)
    if action is None:
        raise TransitionRefused(
            "invalid_transition",
            f"a ticket that is {current} cannot become {requested}",
            key="status_unreachable",
            params={"status": current, "wanted_status": requested},
        )
    return action


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def plan_transition(
    status: str,
    action: str,
    role: str,
    *,
    args: Mapping[str, Any] | None = None,
    own_agency: bool = True,
    has_agency: bool = True,
    closed: bool = False,
) -> str:
    """The status ``action`` leads to, or `TransitionRefused`.

    ``own_agency``: for agency-bound roles, whether the ticket is currently with
    the actor's agency. ``has_agency``: whether the ticket was ever disposed to an
    agency other than the coordinator (a reopened ticket goes back to that agency,
    else back to verification). ``closed``: a resolved ticket past its reply
    window, which the citizen can no longer reopen.
    """
    args = args or {}
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise TransitionRefused(
            "unknown_action",
            f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}",
            key="unknown_action",
            params={"action": action},
        )
    if role not in ROLES:
        raise TransitionRefused(
            "forbidden", f"unknown role {role!r}", key="unknown_role", params={"role": role}
        )
    if role not in transition.roles:
        raise TransitionRefused(
            "forbidden",
            f"a {role} may not {action.replace('_', ' ')} a ticket",
            key="role_may_not_act",
            params={"role": role, "action": action},
        )
    if role in AGENCY_BOUND_ROLES and not own_agency:
        raise TransitionRefused("forbidden", "the ticket is not with your agency", key="not_your_agency")
    if status not in transition.from_statuses:
        from_statuses = tuple(s for s in STATUSES if s in transition.from_statuses)
        allowed = ", ".join(from_statuses)
        raise TransitionRefused(
            "invalid_transition",
            f"cannot {action.replace('_', ' ')} a ticket that is {status} (only from: {allowed})",
            key="not_from_status",
            params={"action": action, "status": status, "from_statuses": from_statuses},
        )
    for name in transition.required:
        if not _present(args.get(name)):
            raise TransitionRefused(
                "missing_argument",
                f"{action.replace('_', ' ')} needs {name!r}",
                key="missing_argument",
                params={"action": action, "field": name},
            )
    if action == ARCHIVE:
        reason = str(args["reason"])
        if reason not in ARCHIVE_REASONS:
            raise TransitionRefused(
                "invalid_argument",
                f"archive reason must be one of {', '.join(ARCHIVE_REASONS)}, not {reason!r}",
                key="invalid_archive_reason",
                params={"reason": reason, "reasons": ARCHIVE_REASONS},
            )
        if reason == "duplicate" and not _present(args.get("duplicate_of")):
            raise TransitionRefused(
                "missing_argument",
                "a duplicate needs 'duplicate_of' (the other tracking number)",
                key="duplicate_needs_number",
                params={"reason": reason},
            )
        if reason == "other" and not _present(args.get("note")):
            raise TransitionRefused(
                "missing_argument",
                "archiving for another reason needs a 'note'",
                key="other_reason_needs_note",
                params={"reason": reason},
            )
    if action == REOPEN:
        if role in (CITIZEN, SYSTEM) and status != RESOLVED:
            raise TransitionRefused(
                "forbidden",
                "only a resolved ticket is reopened by a reply",
                key="reopen_by_reply_only_resolved",
            )
        if role in (CITIZEN, SYSTEM) and closed:
            raise TransitionRefused(
                "invalid_transition",
                "the reply window of this ticket has passed",
                key="reply_window_passed",
            )
        return DISPATCHED if has_agency else UNVERIFIED
    assert transition.to_status is not None
    return transition.to_status


def allowed_actions(status: str, role: str, *, own_agency: bool = True, closed: bool = False) -> list[str]:
    """Actions ``role`` may take now (arguments aside): the buttons the inbox shows."""
    out: list[str] = []
    for action, transition in TRANSITIONS.items():
        if role not in transition.roles or status not in transition.from_statuses:
            continue
        if role in AGENCY_BOUND_ROLES and not own_agency:
            continue
        if action == REOPEN and role in (CITIZEN, SYSTEM) and (status != RESOLVED or closed):
            continue
        out.append(action)
    return out


def notification_kind(action: str, new_status: str) -> str | None:
    """What the citizen is told after ``action`` (a key under ``notify.``), or None."""
    transition = TRANSITIONS.get(action)
    if transition is None or not transition.notify:
        return None
    return "reopened" if action == REOPEN else new_status


#: Which deadline (a key of config/lifecycle.yaml ``deadlines``) runs in each status.
DEADLINE_STAGES: Final[Mapping[str, str | None]] = {
    UNVERIFIED: "verify",
    DEFERRED: None,  # the citizen owes an answer; no operator is late
    DISPATCHED: "follow_up",
    IN_PROGRESS: "follow_up",
    RESOLVED: "close_after",
    ARCHIVED: None,
}


def deadline_stage(status: str) -> str | None:
    return DEADLINE_STAGES.get(status)


# Privacy: ordered from loosest to tightest.
PRIVACY_LEVELS: Final = ("public", "anonymous", "confidential")
DEFAULT_PRIVACY: Final = "anonymous"


def normalize_privacy(value: str | None, chosen: bool) -> str:
    """The privacy a new ticket gets: the citizen's choice, else anonymous (ARCHITECTURE.md).

    A value the citizen did not choose may only be tighter than anonymous (a rule, such as an
    emergency filed RAHASIA, may tighten as a coordinator may); never looser without them."""
    if value not in PRIVACY_LEVELS:
        return DEFAULT_PRIVACY
    if chosen:
        return value
    return max(value, DEFAULT_PRIVACY, key=PRIVACY_LEVELS.index)


def plan_privacy_change(current: str, wanted: str, role: str, *, citizen_consent: bool = False) -> str:
    """``wanted`` if ``role`` may set it; tightening is the coordinator's, loosening the citizen's."""
    if wanted not in PRIVACY_LEVELS:
        raise TransitionRefused(
            "invalid_argument",
            f"privacy must be one of {', '.join(PRIVACY_LEVELS)}",
            key="invalid_privacy",
            params={"privacy_levels": PRIVACY_LEVELS},
        )
    if wanted == current:
        raise TransitionRefused(
            "invalid_transition",
            f"the ticket is already {current}",
            key="privacy_unchanged",
            params={"privacy": current},
        )
    tighter = PRIVACY_LEVELS.index(wanted) > PRIVACY_LEVELS.index(current)
    if role == CITIZEN:
        return wanted
    if role not in CITY_ROLES:
        raise TransitionRefused(
            "forbidden",
            f"a {role} may not change a ticket's privacy",
            key="role_may_not_change_privacy",
            params={"role": role},
        )
    if not tighter and not citizen_consent:
        raise TransitionRefused(
            "forbidden",
            f"{current} -> {wanted} loosens the citizen's choice; only the citizen can do that",
            key="privacy_loosening_needs_citizen",
            params={"privacy": current, "wanted_privacy": wanted},
        )
    return wanted
