"""The transition table: who may move a ticket where, and how refusals read."""

from __future__ import annotations

import pytest

from conversations import lifecycle as lc
from conversations.lifecycle import TransitionRefused, action_for, plan_transition

# (status, action, role, args, expected new status)
ALLOWED = [
    ("unverified", "dispose", "coordinator", {"agency": "dpupr"}, "dispatched"),
    ("deferred", "dispose", "admin", {"agency": "dpupr"}, "dispatched"),
    ("unverified", "dispose", "api-all", {"agency": "dlh"}, "dispatched"),
    ("unverified", "dispose", "system", {"agency": "dlh"}, "dispatched"),
    ("unverified", "defer", "coordinator", {"note": "Di RT berapa?"}, "deferred"),
    ("deferred", "answer", "citizen", {}, "unverified"),
    ("dispatched", "not_our_authority", "agency", {"note": "Jalan provinsi"}, "unverified"),
    ("in_progress", "not_our_authority", "api-agency", {"note": "Jalan nasional"}, "unverified"),
    ("dispatched", "start", "agency", {}, "in_progress"),
    ("dispatched", "start", "api-agency", {}, "in_progress"),
    ("in_progress", "resolve", "agency", {"note": "Sudah ditambal"}, "resolved"),
    ("dispatched", "resolve", "coordinator", {"note": "Sudah ditambal"}, "resolved"),
    ("unverified", "archive", "coordinator", {"reason": "too_general"}, "archived"),
    ("deferred", "archive", "system", {"reason": "not_responding"}, "archived"),
    ("dispatched", "archive", "admin", {"reason": "duplicate", "duplicate_of": "12345674"}, "archived"),
    ("resolved", "close", "system", {}, "resolved"),
]


@pytest.mark.parametrize(("status", "action", "role", "args", "expected"), ALLOWED)
def test_allowed(status: str, action: str, role: str, args: dict[str, str], expected: str) -> None:
    assert plan_transition(status, action, role, args=args) == expected


# (status, action, role, args, own_agency, closed, expected code, words in the message)
REFUSED = [
    (
        "unverified",
        "dispose",
        "agency",
        {"agency": "dpupr"},
        True,
        False,
        "forbidden",
        "agency may not dispose",
    ),
    ("unverified", "dispose", "coordinator", {}, True, False, "missing_argument", "'agency'"),
    (
        "dispatched",
        "dispose",
        "coordinator",
        {"agency": "dlh"},
        True,
        False,
        "invalid_transition",
        "dispatched",
    ),
    ("unverified", "defer", "coordinator", {"note": "   "}, True, False, "missing_argument", "'note'"),
    (
        "dispatched",
        "defer",
        "coordinator",
        {"note": "?"},
        True,
        False,
        "invalid_transition",
        "only from: unverified",
    ),
    ("dispatched", "start", "agency", {}, False, False, "forbidden", "not with your agency"),
    ("dispatched", "start", "api-agency", {}, False, False, "forbidden", "not with your agency"),
    ("dispatched", "start", "citizen", {}, True, False, "forbidden", "citizen may not start"),
    ("unverified", "start", "agency", {}, True, False, "invalid_transition", "unverified"),
    ("in_progress", "resolve", "agency", {}, True, False, "missing_argument", "'note'"),
    ("resolved", "resolve", "agency", {"note": "x"}, True, False, "invalid_transition", "resolved"),
    ("dispatched", "not_our_authority", "agency", {}, True, False, "missing_argument", "'note'"),
    (
        "unverified",
        "not_our_authority",
        "agency",
        {"note": "x"},
        True,
        False,
        "invalid_transition",
        "unverified",
    ),
    (
        "dispatched",
        "archive",
        "agency",
        {"reason": "too_general"},
        True,
        False,
        "forbidden",
        "agency may not",
    ),
    ("dispatched", "archive", "coordinator", {"reason": "boring"}, True, False, "invalid_argument", "reason"),
    (
        "dispatched",
        "archive",
        "coordinator",
        {"reason": "duplicate"},
        True,
        False,
        "missing_argument",
        "duplicate_of",
    ),
    ("dispatched", "archive", "coordinator", {"reason": "other"}, True, False, "missing_argument", "'note'"),
    (
        "archived",
        "archive",
        "coordinator",
        {"reason": "too_general"},
        True,
        False,
        "invalid_transition",
        "archived",
    ),
    ("archived", "reopen", "citizen", {}, True, False, "forbidden", "only a resolved ticket"),
    ("resolved", "reopen", "citizen", {}, True, True, "invalid_transition", "reply window"),
    ("resolved", "reopen", "agency", {}, True, False, "forbidden", "agency may not reopen"),
    ("in_progress", "reopen", "coordinator", {}, True, False, "invalid_transition", "in_progress"),
    ("resolved", "close", "agency", {}, True, False, "forbidden", "agency may not close"),
    ("unverified", "teleport", "admin", {}, True, False, "unknown_action", "teleport"),
    ("unverified", "dispose", "janitor", {"agency": "x"}, True, False, "forbidden", "unknown role"),
]


@pytest.mark.parametrize(("status", "action", "role", "args", "own", "closed", "code", "words"), REFUSED)
def test_refused(
    status: str, action: str, role: str, args: dict[str, str], own: bool, closed: bool, code: str, words: str
) -> None:
    with pytest.raises(TransitionRefused) as refused:
        plan_transition(status, action, role, args=args, own_agency=own, closed=closed)
    assert refused.value.code == code
    assert words in str(refused.value)


def test_reopen_goes_back_to_the_agency_or_to_verification() -> None:
    assert plan_transition("resolved", "reopen", "citizen", has_agency=True) == "dispatched"
    assert plan_transition("archived", "reopen", "coordinator", has_agency=False) == "unverified"
    assert plan_transition("archived", "reopen", "coordinator", has_agency=True) == "dispatched"


def test_every_transition_stays_inside_the_statuses() -> None:
    assert set(lc.STATUSES) == lc.OPEN_STATUSES | lc.CLOSED_STATUSES
    assert not lc.OPEN_STATUSES & lc.CLOSED_STATUSES
    for transition in lc.TRANSITIONS.values():
        assert transition.from_statuses <= set(lc.STATUSES)
        assert transition.to_status is None or transition.to_status in lc.STATUSES
        assert transition.roles <= lc.ROLES


@pytest.mark.parametrize(
    ("current", "requested", "action"),
    [
        ("unverified", "dispatched", "dispose"),
        ("dispatched", "in_progress", "start"),
        ("in_progress", "resolved", "resolve"),
        ("in_progress", "unverified", "not_our_authority"),
        ("deferred", "unverified", "answer"),
        ("resolved", "dispatched", "reopen"),
        ("archived", "unverified", "reopen"),
        ("unverified", "archived", "archive"),
        ("unverified", "deferred", "defer"),
        ("dispatched", "not_our_authority", "not_our_authority"),
    ],
)
def test_api_status_names_the_transition(current: str, requested: str, action: str) -> None:
    assert action_for(current, requested) == action


@pytest.mark.parametrize(
    ("current", "requested", "code"),
    [
        ("resolved", "in_progress", "invalid_transition"),
        ("resolved", "resolved", "invalid_transition"),
        ("resolved", "closed", "unknown_action"),
        ("dispatched", "deferred", "invalid_transition"),
    ],
)
def test_api_status_refused(current: str, requested: str, code: str) -> None:
    with pytest.raises(TransitionRefused) as refused:
        action_for(current, requested)
    assert refused.value.code == code


def test_allowed_actions_are_the_buttons() -> None:
    assert lc.allowed_actions("dispatched", "agency") == ["not_our_authority", "start", "resolve"]
    assert lc.allowed_actions("dispatched", "agency", own_agency=False) == []
    assert set(lc.allowed_actions("unverified", "coordinator")) == {"dispose", "defer", "archive"}
    assert lc.allowed_actions("resolved", "citizen") == ["reopen"]
    assert lc.allowed_actions("resolved", "citizen", closed=True) == []


def test_notification_kinds() -> None:
    assert lc.notification_kind("dispose", "dispatched") == "dispatched"
    assert lc.notification_kind("reopen", "dispatched") == "reopened"
    assert lc.notification_kind("not_our_authority", "unverified") is None
    assert lc.notification_kind("answer", "unverified") is None
    assert lc.notification_kind("close", "resolved") is None


def test_new_ticket_privacy_defaults_to_anonymous() -> None:
    assert lc.normalize_privacy("public", chosen=True) == "public"
    assert lc.normalize_privacy("public", chosen=False) == "anonymous"
    assert lc.normalize_privacy(None, chosen=True) == "anonymous"
    assert lc.normalize_privacy("confidential", chosen=True) == "confidential"
    # Not chosen: a rule may tighten (an emergency filed RAHASIA), never loosen.
    assert lc.normalize_privacy("confidential", chosen=False) == "confidential"
    assert lc.normalize_privacy("anonymous", chosen=False) == "anonymous"


@pytest.mark.parametrize(
    ("current", "wanted", "role", "consent", "result"),
    [
        ("public", "anonymous", "coordinator", False, "anonymous"),
        ("anonymous", "confidential", "admin", False, "confidential"),
        ("confidential", "public", "citizen", False, "public"),
        ("confidential", "anonymous", "coordinator", True, "anonymous"),
    ],
)
def test_privacy_changes_allowed(current: str, wanted: str, role: str, consent: bool, result: str) -> None:
    assert lc.plan_privacy_change(current, wanted, role, citizen_consent=consent) == result


@pytest.mark.parametrize(
    ("current", "wanted", "role", "code"),
    [
        ("confidential", "public", "coordinator", "forbidden"),
        ("anonymous", "public", "api-all", "forbidden"),
        ("public", "confidential", "agency", "forbidden"),
        ("public", "secret", "admin", "invalid_argument"),
        ("public", "public", "admin", "invalid_transition"),
    ],
)
def test_privacy_changes_refused(current: str, wanted: str, role: str, code: str) -> None:
    with pytest.raises(TransitionRefused) as refused:
        lc.plan_privacy_change(current, wanted, role)
    assert refused.value.code == code


def test_deadline_stage_per_status() -> None:
    assert lc.deadline_stage("unverified") == "verify"
    assert lc.deadline_stage("in_progress") == "follow_up"
    assert lc.deadline_stage("resolved") == "close_after"
    assert lc.deadline_stage("deferred") is None
