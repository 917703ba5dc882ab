"""The ticket service: the only code that changes a ticket.

Every change goes through a function here, inside the caller's transaction, and
writes its audit row (a `TicketEvent`: who, from, to, note, when) and whatever
must follow (the citizen's notification, the forward job) in that same
transaction, so that a rollback takes them all back together. The rules of who may
do what live in conversations/lifecycle.py; this module applies them to rows.

The inbox, the API, the inbound job and the sweep all call these functions with
an `Actor`, so the agency boundary and the privacy rules are checked in one place.
Who may see what is gateway/tickets/visibility.py; the names imported from it
``as`` themselves are re-exported so that callers written against the service keep
working, but new code calls them there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from conversations import texts
from conversations.places import match_area
from conversations.routing import RoutingDecision, detect_area, route
from conversations.tracking import new_tracking_number, parse_tracking
from gateway.messages.outgoing import queue_message
from gateway.store.models import Agency, AuditEntry, Contact, Message, Operator, Ticket, TicketEvent, utcnow
from gateway.tickets import policy, reply_budget, supporters
from gateway.tickets.citizen_updates import notify_citizen
from gateway.tickets.visibility import CONFIDENTIAL as CONFIDENTIAL
from gateway.tickets.visibility import PUBLIC_PRIVACY as PUBLIC_PRIVACY
from gateway.tickets.visibility import PUBLIC_ROLE, can_see
from gateway.tickets.visibility import coarse_coordinate as coarse_coordinate
from gateway.tickets.visibility import is_confidential as is_confidential
from gateway.tickets.visibility import is_public as is_public
from gateway.tickets.visibility import is_verified as is_verified
from gateway.tickets.visibility import reveals_reporter as reveals_reporter
from gateway.tickets.visibility import reveals_reporter_clause as reveals_reporter_clause
from gateway.tickets.visibility import visible_clause as visible_clause
from gateway.tickets.visibility import visible_tickets_query as visible_tickets_query

if TYPE_CHECKING:
    from gateway.runtime import Runtime

TransitionRefused = lc.TransitionRefused

#: Longest operator reply or note accepted (a reply is split into SMS parts by the adapter).
MAX_TEXT = 4096


# --------------------------------------------------------------------------- actors
@dataclass(frozen=True)
class Actor:
    """Who acts: an operator, an API token, the system (jobs, sweep) or the citizen.

    ``role`` is one of conversations.lifecycle.ROLES; ``agency_id`` binds agency
    operators and agency-scoped tokens to their agency; ``label`` is what the
    history shows ("Budi (DPUPR)", "API: sistem-opd", "Sistem").
    """

    kind: str  # operator | api | system | citizen
    id: int | None
    role: str
    agency_id: int | None = None
    label: str | None = None

    @classmethod
    def system(cls, label: str = "Sistem") -> Actor:
        return cls(kind="system", id=None, role=lc.SYSTEM, label=label)

    @classmethod
    def citizen(cls, contact_id: int | None, label: str = "Pelapor") -> Actor:
        return cls(kind="citizen", id=contact_id, role=lc.CITIZEN, label=label)

    @classmethod
    def forward_target(cls, agency_id: int | None) -> Actor:
        """An agency's own system a ticket is forwarded to: it sees what that agency's tokens see."""
        return cls(kind="forward", id=None, role=lc.API_AGENCY, agency_id=agency_id, label="Forward")

    @classmethod
    def public(cls) -> Actor:
        """Nobody in particular: a visitor of the public pages, an Open311 reader."""
        return cls(kind="public", id=None, role=PUBLIC_ROLE, label="Publik")

    @classmethod
    def for_operator(cls, operator: Operator) -> Actor:
        agency = operator.agency.code.upper() if operator.agency is not None else None
        label = f"{operator.name} ({agency})" if agency else operator.name
        return cls(
            kind="operator", id=operator.id, role=operator.role, agency_id=operator.agency_id, label=label
        )

    @property
    def city_wide(self) -> bool:
        """Sees and acts on every ticket (admin, coordinator, unscoped API token, the system)."""
        return self.role in lc.CITY_ROLES or self.role == lc.SYSTEM

    @property
    def agency_bound(self) -> bool:
        return self.role in lc.AGENCY_BOUND_ROLES


#: Steps a person takes on a ticket the system disposed that verify it (the agency's first action).
_AGENCY_STEPS: Final = frozenset({lc.START, lc.RESOLVE, "reply"})


def mark_verified(ticket: Ticket, actor: Actor, action: str) -> None:
    """Record whether a person has now confirmed the ticket (`Ticket.verified_at`).

    A disposition by a person (an operator or an API token) verifies it; one by the
    system (a category set to auto-dispatch) does not, until a person takes the
    agency's first step on it: starts it, resolves it or replies to the citizen.
    "Bukan wewenang" takes the verification back, the agency having been wrong.
    Called by `transition` and `operator_reply`, after the status has changed.
    """
    person = actor.kind in ("operator", "api")
    if action == lc.NOT_OUR_AUTHORITY or (action == lc.DISPOSE and not person):
        ticket.verified_at = None
        return
    first_agency_step = (
        action in _AGENCY_STEPS
        and ticket.verified_at is None
        and ticket.dispatched_at is not None
        and ticket.status not in lc.PRE_DISPATCH_STATUSES
    )
    if person and (action == lc.DISPOSE or first_agency_step):
        ticket.verified_at = utcnow()


def find_ticket(session: Session, actor: Actor, tracking: str) -> Ticket | None:
    """The ticket ``#tracking`` if it exists and ``actor`` may see it (else None: no probing)."""
    number = parse_tracking(tracking) or tracking.strip().lstrip("#")
    ticket = session.scalar(select(Ticket).where(Ticket.tracking == number))
    if ticket is None or not can_see(actor, ticket):
        return None
    return ticket


# --------------------------------------------------------------------------- helpers
def _agency_by_code(session: Session, runtime: Runtime, code: str) -> Agency | None:
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None and runtime.catalog.agency(code) is not None:
        # Agencies are seeded at start (`sync_agencies`); a config edited since is caught up here.
        from gateway.tickets.seed import sync_agencies

        agency = sync_agencies(session, runtime.catalog).get(code)
    return agency


def coordinator_agency(session: Session, runtime: Runtime) -> Agency:
    """The coordinator's Agency row (seeded from config when missing)."""
    agency = _agency_by_code(session, runtime, runtime.catalog.coordinator.code)
    if agency is None:
        raise LookupError("the coordinator agency is not configured")
    return agency


def _resolve_agency(session: Session, runtime: Runtime, value: Any) -> Agency:
    if isinstance(value, Agency):
        agency: Agency | None = value
    elif isinstance(value, int):
        agency = session.get(Agency, value)
    else:
        agency = _agency_by_code(session, runtime, str(value).strip().lower())
    if agency is None or not agency.active:
        raise TransitionRefused(
            "invalid_argument",
            f"unknown agency {value!r}",
            key="unknown_agency",
            params={"agency": str(value)},
        )
    return agency


def _set_deadline(
    runtime: Runtime,
    ticket: Ticket,
    stage: str | None,
    start: date | None = None,
    table: Mapping[str, int] | None = None,
) -> None:
    """``table``: the working-day deadlines the citizen was promised (see `create_ticket`);
    else the category's in the config in effect."""
    ticket.overdue = False
    ticket.escalated_at = None
    if stage is None:
        ticket.deadline = None
        return
    start = start or policy.today(runtime)
    ticket.deadline = policy.calendar(runtime).deadline(
        start, stage, table if table is not None else policy.deadlines(runtime, ticket.category)
    )


def _event(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    action: str,
    *,
    from_status: str | None,
    to_status: str | None,
    note: str | None = None,
    internal: bool = False,
    data: Mapping[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket=ticket,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        note=note,
        internal=internal,
        data=dict(data or {}),
        created_at=utcnow(),
    )
    session.add(event)
    session.flush()
    return event


def _touch(ticket: Ticket, actor: Actor) -> None:
    now = utcnow()
    ticket.last_activity_at = now
    ticket.updated_at = now
    if actor.kind in ("operator", "api") and ticket.first_response_at is None:
        ticket.first_response_at = now


def _require_text(value: str | None, what: Literal["reply", "note"]) -> str:
    """The stripped text, or a refusal; each kind of text has its own sentence for the inbox."""
    text = (value or "").strip()
    if not text:
        if what == "reply":
            raise TransitionRefused("missing_argument", "the reply must not be empty", key="reply_empty")
        raise TransitionRefused("missing_argument", "the note must not be empty", key="note_empty")
    if len(text) > MAX_TEXT:
        if what == "reply":
            raise TransitionRefused(
                "invalid_argument",
                f"the reply is longer than {MAX_TEXT} characters",
                key="reply_too_long",
                params={"max": MAX_TEXT},
            )
        raise TransitionRefused(
            "invalid_argument",
            f"the note is longer than {MAX_TEXT} characters",
            key="note_too_long",
            params={"max": MAX_TEXT},
        )
    return text


def _require_operator(actor: Actor, ticket: Ticket, what: Literal["reply", "note", "assign"]) -> None:
    """Only operators (and tokens) act here, and only on tickets they can see.

    ``what`` picks the refusal's sentence; the keys are spelled out so the
    catalog test can find each one.
    """
    if actor.role in (lc.CITIZEN,) or actor.role not in lc.ROLES:
        if what == "reply":
            raise TransitionRefused(
                "forbidden",
                f"a {actor.role} may not reply to the citizen",
                key="role_may_not_reply",
                params={"role": actor.role},
            )
        if what == "note":
            raise TransitionRefused(
                "forbidden",
                f"a {actor.role} may not add a note",
                key="role_may_not_add_note",
                params={"role": actor.role},
            )
        raise TransitionRefused(
            "forbidden",
            f"a {actor.role} may not assign a ticket",
            key="role_may_not_assign",
            params={"role": actor.role},
        )
    if not can_see(actor, ticket):
        raise TransitionRefused("forbidden", "the ticket is not with your agency", key="not_your_agency")


_TRACKINGS_TAKEN = select(Ticket.tracking).where(Ticket.tracking.in_(bindparam("numbers", expanding=True)))


def unique_trackings(session: Session, count: int) -> list[str]:
    """``count`` distinct tracking numbers no ticket has, checked in one query per round.

    The one place that picks a new ticket's number: a form's ticket takes one, a batch of
    conversation turns reserves one for each turn (the turn that files a draft needs it)."""
    numbers: set[str] = set()
    while len(numbers) < count:
        fresh = {new_tracking_number() for _ in range(count - len(numbers))} - numbers
        numbers |= fresh - set(session.scalars(_TRACKINGS_TAKEN, {"numbers": list(fresh)}))
    return list(numbers)


def route_ticket(
    runtime: Runtime, category: str | None, area: str | None, area_codes: Sequence[str] = ()
) -> RoutingDecision:
    catalog = runtime.catalog
    return route(category, area, catalog.agencies, catalog.categories, area_codes)


def area_codes(ticket: Ticket) -> tuple[str, ...]:
    """The Kemendagri codes the ticket's place matched (ticket.data["area"]), for routing."""
    found = (ticket.data or {}).get("area") or {}
    return tuple(str(found[k]) for k in ("kecamatan_code", "kelurahan_code") if found.get(k))


def area_of(runtime: Runtime, location_text: str | None) -> str | None:
    """The configured area (kecamatan) ``location_text`` names, if any."""
    return detect_area(location_text, {a for agency in runtime.catalog.agencies for a in agency.areas})


def _place_of(
    runtime: Runtime, location_text: str | None, area: str | None, place: Any
) -> tuple[str | None, list[str]]:
    """The area a ticket's place routes by, and the Kemendagri codes it matched.

    The kecamatan of config/areas.yaml first ("where, as codes"), else an area an agency
    lists by name; ``area`` given by the caller wins. One rule for filing and for the
    confirmation that says where a ticket went.
    """
    if area is None:
        area = place.kecamatan if place else None
    if area is None:
        area = area_of(runtime, location_text)
    codes = (place.kecamatan_code, place.kelurahan_code or "") if place and place.kecamatan == area else ()
    return area, [c for c in codes if c]


def dispatch_at_once(
    runtime: Runtime, description: str, category: str | None, location_text: str | None
) -> str | None:
    """The name of the agency a ticket about this would be dispatched to at once, skipping
    verification (its category auto-dispatches and its owner is certain); None otherwise.

    The same routing `create_ticket` applies, asked before filing so that the citizen's
    confirmation can say where the ticket went rather than promise a verification.
    """
    place = match_area(location_text, runtime.config.areas)
    area, codes = _place_of(runtime, location_text, None, place)
    decision, _ = _routing_for(runtime, description, location_text, category, area, "message", codes)
    if not (decision.certain and decision.auto_dispatch):
        return None
    agency = next((a for a in runtime.catalog.agencies if a.code == decision.agency_code), None)
    return agency.name if agency is not None else None


def _routing_for(
    runtime: Runtime,
    description: str,
    location_text: str | None,
    category: str | None,
    area: str | None,
    source: str,
    area_codes: Sequence[str] = (),
) -> tuple[RoutingDecision, list[dict[str, Any]]]:
    """Where a new ticket goes, and the ranked suggestions kept for the coordinator.

    A complaint from the conversation whose category the router itself guessed (the
    category is its top candidate) is routed only when the confidence reaches the
    deployer's threshold (config/routing.yaml); a category the citizen chose from the menu,
    or one an operator or the API set, is routed as given. Once the coordinator's
    dispositions have trained a model (gateway.routing.learn), it is blended with the rules.
    """
    from conversations.routing import recommend
    from conversations.routing_score import score
    from gateway.routing.learn import learned_probabilities, learned_weight

    config = runtime.config
    catalog, rules = config.catalog, config.rules
    scoring = score(config, description, location=location_text or None)
    advice = recommend(
        scoring,
        area,
        catalog.agencies,
        catalog.categories,
        rules.threshold,
        rules.suggestions,
        learned=learned_probabilities(runtime, description),
        learned_weight=learned_weight(runtime),
        area_codes=area_codes,
    )
    suggestions = [dict(s) for s in advice.suggestions]
    # The dialogue guessed the category from the same scorer (its top category); the decision
    # itself weighs agencies (categories of one agency add up), so it may name a sibling.
    top = scoring.top
    guessed = source == "message" and category is not None and top is not None and category == top.category
    if guessed:
        return advice.decision, suggestions
    return route_ticket(runtime, category, area, area_codes), suggestions


def thread_message_ids(ticket: Ticket) -> list[int]:
    """Row ids of the messages the ticket was filed from (``data["message_ids"]``).

    Integers only: tickets filed before this rule kept the provider's message ids there, as
    text, and a provider's id such as "62" read as our row 62 brought another citizen's
    message into the thread. Callers also keep to the ticket's own contact.
    """
    found = (ticket.data or {}).get("message_ids") or []
    return [i for i in found if isinstance(i, int) and not isinstance(i, bool)]


# --------------------------------------------------------------------------- creating
def create_ticket(
    session: Session,
    runtime: Runtime,
    *,
    contact: Contact | None,
    description: str,
    category: str | None,
    location_text: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    privacy: str | None = None,
    privacy_chosen: bool = False,
    channel: str | None = None,
    address: str | None = None,
    language: str = "id",
    source: str = "message",
    attachments: Iterable[Mapping[str, Any]] = (),
    message_ids: Iterable[int] = (),
    tracking: str | None = None,
    actor: Actor | None = None,
    area: str | None = None,
    notify_received: bool | None = None,
    notify_dispatch: bool = True,
    deadlines: Mapping[str, int] | None = None,
) -> Ticket:
    """File a complaint: route it, start its verify deadline, audit it, tell the citizen.

    ``notify_received`` defaults to False for tickets from the conversation (the
    engine's "filed" reply already gives the tracking number) and True for tickets
    an operator or the API files for a citizen. A ticket whose category is set to
    auto-dispatch and whose agency is certain is disposed at once by the system;
    ``notify_dispatch`` False when the citizen was already told so (the conversation's
    confirmation names the agency, see `dispatch_at_once`).
    ``message_ids`` are row ids of the citizen's own messages, never a provider's ids (see
    `thread_message_ids`).
    ``deadlines``: the working-day table the conversation's confirmation promised
    (`CreateTicket.deadlines`); the ticket is due by it whatever the config says by now.
    """
    actor = actor or (
        Actor.citizen(contact.id if contact else None) if source == "message" else Actor.system()
    )
    place = match_area(location_text, runtime.config.areas)
    area, codes = _place_of(runtime, location_text, area, place)
    decision, suggestions = _routing_for(runtime, description, location_text, category, area, source, codes)
    owner = _agency_by_code(session, runtime, decision.agency_code) or coordinator_agency(session, runtime)
    now = utcnow()
    ticket = Ticket(
        tracking=tracking or unique_trackings(session, 1)[0],
        contact_id=contact.id if contact is not None else None,
        status=lc.UNVERIFIED,
        agency=owner,
        category=category,
        description=description,
        location_text=location_text,
        latitude=latitude,
        longitude=longitude,
        area=area,
        privacy=lc.normalize_privacy(privacy, privacy_chosen),
        privacy_chosen=bool(privacy_chosen and privacy in lc.PRIVACY_LEVELS),
        channel=channel,
        address=address,
        language=language if language in ("id", "en") else "id",
        source=source,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        has_unread=True,
        data={
            "attachments": [dict(a) for a in attachments],
            "message_ids": list(message_ids),
            "routing": {
                "agency": decision.agency_code,
                "certain": decision.certain,
                "reason": decision.reason,
                "suggestions": suggestions,
            },
            **({"area": place.as_data()} if place and place.kecamatan == area else {}),
        },
    )
    session.add(ticket)
    _set_deadline(runtime, ticket, lc.deadline_stage(lc.UNVERIFIED), table=deadlines)
    session.flush()
    supporters.note_candidates(session, runtime, ticket)  # "ikut melapor": likely duplicates (issue 20)
    event = _event(
        session,
        ticket,
        actor,
        "created",
        from_status=None,
        to_status=lc.UNVERIFIED,
        data={"routing": dict(ticket.data["routing"]), "source": source},
    )
    if source != "message":
        # Filed for the citizen (walk-in desk, Open311, API): their reply answers this ticket.
        from gateway.tickets.threads import open_thread

        open_thread(session, ticket)
    at_once = decision.certain and decision.auto_dispatch
    if notify_received is None:
        notify_received = source != "message"
    if notify_received and not at_once:
        # Dispatched at once: "waiting for verification" would be untrue a moment later; the
        # "forwarded to" notice below carries the tracking number instead.
        notify_citizen(session, runtime, ticket, event, lc.UNVERIFIED)
    if at_once:
        transition(
            session,
            runtime,
            ticket,
            lc.DISPOSE,
            Actor.system("Disposisi otomatis"),
            notify=notify_dispatch,
            agency=owner,
        )
        if deadlines is not None:  # the follow-up time the confirmation named, not a later edit's
            _set_deadline(runtime, ticket, lc.deadline_stage(ticket.status), table=deadlines)
    return ticket


def record_filing(
    ticket: Ticket, actor: Actor | None = None, *, consent: bool | None = None, **details: Any
) -> None:
    """Keep on a new ticket what the surface that took the complaint knows of its filing.

    `create_ticket` files the complaint the same way for every surface; the walk-in desk, a
    draft and Open311 each know a little more, and it is written here rather than by them:
    who typed it in (``actor``: ``data["filed_by"]``), whether the citizen agreed to be
    contacted at the desk (``consent``: ``consent_recorded`` and ``data["consent"]``, when
    and by whom, which the thread page shows), and other ``details`` (the draft it came
    from, the Open311 fields and names, which redaction treats as known names).
    No history row: this is part of the filing, whose "created" row is already written.
    """
    data = {**(ticket.data or {}), **details}
    if actor is not None:
        data["filed_by"] = actor.label
    if consent is not None:
        ticket.consent_recorded = consent
        by = actor.label if actor is not None else None
        data["consent"] = {"given": consent, "at": utcnow().isoformat(), "by": by}
    ticket.data = data


# --------------------------------------------------------------------------- transitions
@dataclass
class _Change:
    """One transition in the making: what its steps read, and what they leave for the event.

    The steps of `_BEFORE_EVENT` fill ``data``, ``event_note`` and ``notify_note``;
    those of `_AFTER_EVENT` may silence the citizen's notice (``notice``).
    """

    session: Session
    runtime: Runtime
    ticket: Ticket
    actor: Actor
    action: str
    args: Mapping[str, Any]
    new_status: str
    note: str | None
    now: datetime
    data: dict[str, Any] = field(default_factory=dict)
    event_note: str | None = None
    notify_note: str | None = None
    internal: bool = False
    #: The key under ``notify.`` the citizen is told (None: nothing); see `lifecycle.notification_kind`.
    notice: str | None = None


_Step = Callable[[_Change], None]
_AfterStep = Callable[[_Change, TicketEvent], None]


def _start_stage_deadline(change: _Change) -> None:
    """The deadline of the new status's stage (config/lifecycle.yaml) runs from today."""
    _set_deadline(change.runtime, change.ticket, lc.deadline_stage(change.new_status))


def _stop_deadline(change: _Change) -> None:
    _set_deadline(change.runtime, change.ticket, None)


def _hand_to_agency(change: _Change) -> None:
    """Dispose: the ticket is the agency's now; the note is an instruction for it, not for the citizen."""
    agency = _resolve_agency(change.session, change.runtime, change.args["agency"])
    change.ticket.agency = agency
    change.ticket.dispatched_at = change.now
    change.data["agency"] = agency.code
    if change.note:
        change.data["instruction"] = change.note
    change.event_note = change.notify_note = None


def _return_to_coordinator(change: _Change) -> None:
    """ "Bukan wewenang": back to the coordinator, remembering who refused; between operators only."""
    ticket = change.ticket
    previous = ticket.agency.code if ticket.agency is not None else None
    ticket.agency = coordinator_agency(change.session, change.runtime)
    ticket.dispatched_at = None
    change.data["returned_by"] = previous
    refused = list((ticket.data or {}).get("refused_by") or [])
    if previous:
        refused.append(previous)
    ticket.data = {**(ticket.data or {}), "refused_by": refused}
    change.internal = True


def _stamp_resolved(change: _Change) -> None:
    change.ticket.resolved_at = change.now


def _stamp_closed(change: _Change) -> None:
    change.ticket.closed_at = change.now


def _clear_resolution(change: _Change) -> None:
    change.ticket.resolved_at = None
    change.ticket.closed_at = None


def _record_archive_reason(change: _Change) -> None:
    """The reason (and the other ticket of a duplicate) for the history, and the citizen's sentence."""
    reason = str(change.args["reason"])
    change.data["reason"] = reason
    params: dict[str, Any] = {}
    if reason == "duplicate":
        other = str(change.args["duplicate_of"]).strip().lstrip("#")
        if parse_tracking(other) is None or other == change.ticket.tracking:
            raise TransitionRefused(
                "invalid_argument",
                f"duplicate_of must be another tracking number, not {other!r}",
                key="duplicate_of_invalid",
                params={"duplicate_of": other},
            )
        change.data["duplicate_of"] = params["duplicate_of"] = other
    note, runtime = change.note, change.runtime
    reason_text = policy.archive_reason_text(runtime, reason, change.ticket.language or "id", **params)
    change.notify_note = f"{reason_text}. {note}" if note and reason != "other" else (note or reason_text)
    change.event_note = note or policy.archive_reason_text(runtime, reason, "id", **params)


def _not_told_twice(change: _Change, event: TicketEvent) -> None:
    """Disposed again to the agency the citizen was last told of (after "bukan wewenang"): no news."""
    if _last_disposed_to(change.ticket, before=event) == change.data.get("agency"):
        change.notice = None


def _forward_or_refer(change: _Change, event: TicketEvent) -> None:
    """Forward to the agency's own system; an agency outside regional authority is a referral instead.

    PLN, BPN, Imigrasi...: no inbox of ours will answer. The citizen is told where to go
    and the ticket is done ("diteruskan ke instansi berwenang"), with no dispose notice.
    """
    ticket, runtime = change.ticket, change.runtime
    referral = _external_body(runtime, ticket)
    if referral is None:
        from gateway.tickets.forwarding import schedule_forward

        schedule_forward(change.session, runtime, ticket, ticket.agency)
        return
    change.notice = None
    note = texts.text(
        runtime.config,
        "referral",
        ticket.language or "id",
        agency=referral.name,
        contact=referral.contact or "-",
    )
    transition(change.session, runtime, ticket, lc.RESOLVE, change.actor, note=note)


#: What each action writes besides the status, in order, before its history row. Where it may
#: start, where it leads and who may take it is conversations.lifecycle.TRANSITIONS.
_BEFORE_EVENT: Final[Mapping[str, tuple[_Step, ...]]] = {
    lc.DISPOSE: (_hand_to_agency, _start_stage_deadline),
    lc.DEFER: (_start_stage_deadline,),
    lc.ANSWER: (_start_stage_deadline,),
    lc.NOT_OUR_AUTHORITY: (_return_to_coordinator, _start_stage_deadline),
    lc.START: (),  # the follow-up deadline keeps running from the disposition
    lc.RESOLVE: (_stamp_resolved, _start_stage_deadline),
    lc.ARCHIVE: (_record_archive_reason, _stamp_closed, _stop_deadline),
    lc.REOPEN: (_clear_resolution, _start_stage_deadline),
    lc.CLOSE: (_stamp_closed, _stop_deadline),
}
#: What follows the history row, before the citizen's notice (which a step may silence).
_AFTER_EVENT: Final[Mapping[str, tuple[_AfterStep, ...]]] = {
    lc.DISPOSE: (_not_told_twice, _forward_or_refer),
}


def _lock(session: Session, runtime: Runtime, ticket: Ticket) -> None:
    """Two operators clicking at once: the second waits, then sees the first's status."""
    session.flush()
    if ticket.id is not None and not runtime.db.is_sqlite:
        session.refresh(ticket, with_for_update=True)


def transition(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    action: str,
    actor: Actor,
    *,
    notify: bool = True,
    **args: Any,
) -> TicketEvent:
    """Apply the named ``action`` for ``actor``; raises TransitionRefused (nothing changed) when not allowed.

    Arguments by action: dispose ``agency`` (code, id or row) and optional
    ``note`` (an instruction to the agency, not shown to the citizen); defer
    ``note`` (the question); not_our_authority ``note`` (the reason); resolve
    ``note`` (the follow-up); archive ``reason`` (lifecycle.ARCHIVE_REASONS),
    ``duplicate_of`` for duplicates, optional ``note``; start, reopen optional ``note``.
    ``notify`` False: the citizen already knows (see `create_ticket`); nothing is queued.
    A disposition to the agency the citizen was last told of (sent back as "bukan
    wewenang", then dispatched there again) is not news and is not sent twice.

    The new status comes from conversations.lifecycle (`plan_transition`); what each
    action writes besides it is the table `_BEFORE_EVENT` / `_AFTER_EVENT` of named steps.
    """
    args = {k: v for k, v in args.items() if v is not None}
    _lock(session, runtime, ticket)
    if actor.role == lc.CITIZEN and not can_see(actor, ticket):
        raise TransitionRefused("forbidden", "not your ticket", key="not_your_ticket")
    before = ticket.status
    new_status = lc.plan_transition(
        before,
        action,
        actor.role,
        args=args,
        own_agency=actor.agency_id is not None and actor.agency_id == ticket.agency_id,
        has_agency=ticket.dispatched_at is not None and ticket.agency_id is not None,
        closed=ticket.closed_at is not None,
    )
    note = str(args["note"]).strip() if args.get("note") else None
    change = _Change(session, runtime, ticket, actor, action, args, new_status, note, utcnow())
    change.event_note = change.notify_note = note
    change.notice = lc.notification_kind(action, new_status)
    for step in _BEFORE_EVENT[action]:
        step(change)
    ticket.status = new_status
    mark_verified(ticket, actor, action)
    _touch(ticket, actor)
    event = _event(
        session,
        ticket,
        actor,
        action,
        from_status=before,
        to_status=new_status,
        note=change.event_note,
        internal=change.internal,
        data=change.data,
    )
    for after in _AFTER_EVENT.get(action, ()):
        after(change, event)
    if change.notice is not None and notify:
        notify_citizen(session, runtime, ticket, event, change.notice, change.notify_note)
    return event


def _last_disposed_to(ticket: Ticket, before: TicketEvent) -> str | None:
    """The agency code of the ticket's disposition before ``before``: what the citizen was told."""
    for event in reversed(ticket.events):
        if event is not before and event.action == lc.DISPOSE:
            return str((event.data or {}).get("agency") or "") or None
    return None


def _external_body(runtime: Runtime, ticket: Ticket) -> Any:
    """The catalogue entry of the ticket's agency when it is outside regional authority, else None."""
    code = ticket.agency.code if ticket.agency is not None else None
    config = runtime.catalog.agency(code)
    return config if config is not None and config.external else None


def reply_window_open(runtime: Runtime, ticket: Ticket, today: date | None = None) -> bool:
    """Whether a citizen's reply still reopens this resolved ticket (reopen_window working days)."""
    if ticket.status != lc.RESOLVED or ticket.closed_at is not None or ticket.resolved_at is None:
        return False
    today = today or policy.today(runtime)
    resolved_on = policy.today(runtime, ticket.resolved_at)
    window = policy.deadlines(runtime, ticket.category).get("reopen_window", 10)
    return policy.calendar(runtime).working_days_between(resolved_on, today) <= window


def add_citizen_message(
    session: Session, runtime: Runtime, ticket: Ticket, message: Message
) -> TicketEvent | None:
    """A citizen wrote about ``ticket``: link it, flag it unread, and move the ticket if their reply should.

    A deferred ticket goes back to verification (the citizen answered the
    question); a resolved ticket within its reply window is reopened.
    """
    message.ticket_id = ticket.id
    ticket.has_unread = True
    ticket.last_activity_at = utcnow()
    from gateway.tickets.forwarding import schedule_media_update

    schedule_media_update(session, message)  # its photos, if already downloaded, follow the forward
    citizen = Actor.citizen(ticket.contact_id)
    if ticket.status == lc.DEFERRED:
        return transition(session, runtime, ticket, lc.ANSWER, citizen)
    if ticket.status == lc.RESOLVED and reply_window_open(runtime, ticket):
        return transition(session, runtime, ticket, lc.REOPEN, citizen)
    return None


# --------------------------------------------------------------------------- other changes
def operator_reply(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    actor: Actor,
    text: str,
    *,
    dedupe_key: str | None = None,
) -> Message:
    """Send ``text`` to the citizen on their channel, prefixed with the tracking number, and log it."""
    _require_operator(actor, ticket, "reply")
    body = _require_text(text, "reply")
    if not ticket.channel or not ticket.address:
        raise TransitionRefused(
            "invalid_transition", "the ticket has no citizen address to reply to", key="no_reply_address"
        )
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id is not None else None
    if contact is not None and contact.opted_out:
        raise TransitionRefused(
            "invalid_transition",
            "the citizen has opted out (STOP); no message can be sent",
            key="citizen_opted_out",
        )
    _require_whole_reply(runtime, ticket, body)
    if dedupe_key is not None:
        repeated = session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))
        if repeated is not None:
            return repeated  # the same request again (a retried API call): stored and sent once
    event = _event(
        session, ticket, actor, "reply", from_status=ticket.status, to_status=ticket.status, note=body
    )
    message = _queue_reply(session, runtime, ticket, actor, body, dedupe_key or f"operator-reply:{event.id}")
    event.data = {"message_id": message.id}
    mark_verified(ticket, actor, "reply")
    _touch(ticket, actor)
    ticket.has_unread = False
    return message


def _require_whole_reply(runtime: Runtime, ticket: Ticket, body: str) -> None:
    """Refuse a reply the channel cannot carry whole: it is never cut on its way to the citizen."""
    budget = reply_budget.measure(runtime, ticket, body)
    if budget.fits:
        return
    if budget.sms and budget.segments > budget.max_segments:
        raise TransitionRefused(
            "invalid_argument",
            f"the reply takes {budget.segments} SMS segments; at most {budget.max_segments} are sent",
            key="reply_too_many_segments",
            params={"segments": budget.segments, "max": budget.max_segments},
        )
    raise TransitionRefused(
        "invalid_argument",
        f"the reply is {budget.characters} characters as sent; the channel carries {budget.max_characters}",
        key="reply_too_long_for_channel",
        params={"length": budget.characters, "max": budget.max_characters},
    )


def _queue_reply(
    session: Session, runtime: Runtime, ticket: Ticket, actor: Actor, body: str, key: str
) -> Message:
    assert ticket.channel and ticket.address
    return queue_message(
        session,
        channel=ticket.channel,
        address=ticket.address,
        text=reply_budget.reply_text(runtime.config, ticket, body),
        contact_id=ticket.contact_id,
        dedupe_key=key,
        ticket_id=ticket.id,
        author="operator",
        operator_id=actor.id if actor.kind == "operator" else None,
        purpose="notification",  # may be days later: the send job handles the WhatsApp window
        language=ticket.language,
    )


def add_note(session: Session, runtime: Runtime, ticket: Ticket, actor: Actor, text: str) -> TicketEvent:
    """An internal note: operators see it, the citizen and the public never do."""
    _require_operator(actor, ticket, "note")
    body = _require_text(text, "note")
    _touch(ticket, actor)
    return _event(
        session,
        ticket,
        actor,
        "note",
        from_status=ticket.status,
        to_status=ticket.status,
        note=body,
        internal=True,
    )


def assign(
    session: Session, runtime: Runtime, ticket: Ticket, actor: Actor, operator_id: int | None
) -> TicketEvent:
    """Give the ticket to one operator (None: to nobody). Agencies assign within their own agency."""
    _require_operator(actor, ticket, "assign")
    target: Operator | None = None
    if operator_id is not None:
        target = session.get(Operator, operator_id)
        if target is None or not target.active:
            raise TransitionRefused(
                "invalid_argument",
                f"unknown operator {operator_id}",
                key="unknown_operator",
                params={"operator_id": operator_id},
            )
        if actor.agency_bound and target.agency_id != actor.agency_id:
            raise TransitionRefused(
                "forbidden", "you can assign only to operators of your agency", key="assign_own_agency_only"
            )
        if target.role == "agency" and target.agency_id != ticket.agency_id:
            raise TransitionRefused(
                "invalid_argument", "that operator belongs to another agency", key="assignee_other_agency"
            )
    ticket.assigned_operator_id = target.id if target else None
    _touch(ticket, actor)
    return _event(
        session,
        ticket,
        actor,
        "assign",
        from_status=ticket.status,
        to_status=ticket.status,
        note=target.name if target else None,
        internal=True,
        data={"operator_id": target.id if target else None},
    )


def change_category(
    session: Session, runtime: Runtime, ticket: Ticket, actor: Actor, category: str
) -> TicketEvent:
    """Correct the category (coordinator); a ticket still waiting for verification is routed again."""
    if not actor.city_wide or actor.role == lc.SYSTEM:
        raise TransitionRefused(
            "forbidden",
            f"a {actor.role} may not change a ticket's category",
            key="role_may_not_change_category",
            params={"role": actor.role},
        )
    if runtime.catalog.category(category) is None:
        raise TransitionRefused(
            "invalid_argument",
            f"unknown category {category!r}",
            key="unknown_category",
            params={"category": category},
        )
    before = ticket.category
    ticket.category = category
    data: dict[str, Any] = {"from": before, "to": category}
    if ticket.status in lc.PRE_DISPATCH_STATUSES:
        decision = route_ticket(runtime, category, ticket.area, area_codes(ticket))
        owner = _agency_by_code(session, runtime, decision.agency_code) or coordinator_agency(
            session, runtime
        )
        ticket.agency = owner
        routing = {"agency": decision.agency_code, "certain": decision.certain, "reason": decision.reason}
        ticket.data = {**(ticket.data or {}), "routing": routing}
        data["routing"] = routing
    _touch(ticket, actor)
    return _event(
        session,
        ticket,
        actor,
        "category",
        from_status=ticket.status,
        to_status=ticket.status,
        note=f"{before or '-'} -> {category}",
        internal=True,
        data=data,
    )


def set_privacy(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    actor: Actor,
    privacy: str,
    *,
    citizen_consent: bool = False,
) -> TicketEvent:
    """Change public/anonymous/confidential: the coordinator tightens, only the citizen loosens.

    ``citizen_consent`` lets an admin or coordinator record a loosening the citizen
    asked for outside the chat (a phone call); the event says so.
    """
    if actor.role != lc.CITIZEN and not actor.city_wide:
        raise TransitionRefused(
            "forbidden",
            f"a {actor.role} may not change a ticket's privacy",
            key="role_may_not_change_privacy",
            params={"role": actor.role},
        )
    if actor.role == lc.CITIZEN and not can_see(actor, ticket):
        raise TransitionRefused("forbidden", "not your ticket", key="not_your_ticket")
    before = ticket.privacy
    after = lc.plan_privacy_change(before, privacy, actor.role, citizen_consent=citizen_consent)
    ticket.privacy = after
    if actor.role == lc.CITIZEN:
        ticket.privacy_chosen = True
    _touch(ticket, actor)
    detail = f"{before} -> {after}" + (" (with the citizen's consent)" if citizen_consent else "")
    session.add(
        AuditEntry(
            operator_id=actor.id if actor.kind == "operator" else None,
            actor_label=actor.label,
            action="ticket.privacy",
            ticket_id=ticket.id,
            detail=detail,
        )
    )
    return _event(
        session,
        ticket,
        actor,
        "privacy",
        from_status=ticket.status,
        to_status=ticket.status,
        note=detail,
        internal=True,
        data={"from": before, "to": after, "citizen_consent": citizen_consent},
    )


def history(ticket: Ticket, actor: Actor) -> list[TicketEvent]:
    """The events ``actor`` may read: the citizen never sees internal ones (notes, reminders, routing)."""
    if actor.role == lc.CITIZEN:
        return [e for e in ticket.events if not e.internal]
    return list(ticket.events)


def is_overdue(runtime: Runtime, ticket: Ticket, today: date | None = None) -> bool:
    """Whether the ticket is past its deadline right now (the sweep sets ``overdue`` every few minutes)."""
    if ticket.deadline is None or ticket.status not in (lc.UNVERIFIED, lc.DISPATCHED, lc.IN_PROGRESS):
        return False
    return ticket.deadline < (today or policy.today(runtime))
