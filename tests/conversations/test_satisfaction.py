"""Ratings, their comments and IKUT/JOIN in the pure engine (issue 20), and the rules behind them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import InboundMessage
from conversations.context import Context, TicketInfo
from conversations.effects import AppendToTicket, CommentRating, JoinTicket, RateTicket, Reply
from conversations.engine import step
from conversations.events import MessageReceived
from conversations.satisfaction import (
    follow_up_passes,
    is_low,
    ombudsman_notice,
    parse_payload,
    question,
    rating_digit,
)
from conversations.state import FILED, ConversationState
from tests.catalogue import catalogue_config

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRACKING = "12345678"
CONFIG = catalogue_config()


def _msg(text: str = "", payload: str | None = None) -> MessageReceived:
    return MessageReceived(
        InboundMessage(
            channel="sms", provider_message_id="m1", sender="tel:+6281", text=text, button_payload=payload
        )
    )


def _ctx(open_question: bool = True, **kw: object) -> Context:
    info = TicketInfo(
        TRACKING, "resolved", rating_asked_at=NOW - timedelta(hours=1) if open_question else None
    )
    return Context(config=CONFIG, now=NOW, tickets=(info,), **kw)  # type: ignore[arg-type]


def _filed() -> ConversationState:
    return ConversationState(stage=FILED, open_ticket=TRACKING, last_activity=NOW.isoformat())


@pytest.mark.parametrize("text", ["4", " 4 ", "4.", "4)"])
def test_a_lone_digit_while_the_question_is_open_rates_and_never_reopens(text: str) -> None:
    result = step(_filed(), _msg(text), _ctx())
    assert RateTicket(TRACKING, 4) in result.effects
    assert not any(isinstance(e, AppendToTicket) for e in result.effects)
    assert "nilai 4" in result.replies[0].text
    assert result.new_state.rating_comment["tracking"] == TRACKING


def test_without_an_open_question_a_digit_is_a_follow_up_as_before() -> None:
    result = step(_filed(), _msg("4"), _ctx(open_question=False))
    assert not any(isinstance(e, RateTicket) for e in result.effects)
    assert any(isinstance(e, AppendToTicket) for e in result.effects)


def test_a_button_rates_the_ticket_it_names_and_a_stale_button_says_so() -> None:
    result = step(_filed(), _msg(payload=f"rate:{TRACKING}:2"), _ctx())
    assert RateTicket(TRACKING, 2) in result.effects
    assert "belum memuaskan" in result.replies[0].text  # the low wording
    stale = step(_filed(), _msg(payload=f"rate:{TRACKING}:2"), _ctx(open_question=False))
    assert not any(isinstance(e, RateTicket) for e in stale.effects)
    assert "ditutup" in stale.replies[0].text


def test_the_next_message_is_the_comment_within_the_window_only() -> None:
    rated = step(_filed(), _msg("2"), _ctx()).new_state
    after = _ctx(open_question=False)
    comment = step(rated, _msg("Masih mati lampunya"), after)
    assert CommentRating(TRACKING, "Masih mati lampunya") in comment.effects
    assert not any(isinstance(e, AppendToTicket) for e in comment.effects)
    assert comment.new_state.rating_comment == {}
    late = Context(config=CONFIG, now=NOW + timedelta(hours=30), tickets=after.tickets)
    later = step(rated, _msg("Masih mati lampunya"), late)
    assert not any(isinstance(e, CommentRating) for e in later.effects)


def test_a_digit_in_a_draft_answers_the_drafts_menu_not_the_rating() -> None:
    state = step(ConversationState.new(), _msg("Sampah menumpuk di pasar sudah seminggu"), _ctx()).new_state
    assert state.draft is not None
    result = step(state, _msg("2"), _ctx())
    assert not any(isinstance(e, RateTicket) for e in result.effects)


def test_join_needs_a_tracking_number_and_is_left_to_the_gateway() -> None:
    assert (
        CONFIG.keywords.parse("IKUT 87654321") is not None
        and CONFIG.keywords.parse("IKUT 87654321").name == "join"
    )  # type: ignore[union-attr]
    assert CONFIG.keywords.parse("JOIN #87654321").name == "join"  # type: ignore[union-attr]
    assert CONFIG.keywords.parse("ikut prihatin jalan rusak") is None
    from stdnum import damm

    valid = "8765432" + damm.calc_check_digit("8765432")
    result = step(ConversationState.new(), _msg(f"IKUT {valid}"), Context(config=CONFIG, now=NOW))
    assert result.effects == [JoinTicket(valid)]  # the answer comes from where the tickets are
    assert result.new_state.draft is None
    typo = step(
        ConversationState.new(),
        _msg("IKUT " + valid[:-1] + str((int(valid[-1]) + 1) % 10)),
        Context(config=CONFIG, now=NOW),
    )
    assert not any(isinstance(e, JoinTicket) for e in typo.effects) and typo.new_state.draft is None


def test_the_rules() -> None:
    assert [rating_digit(t) for t in ("1", "5", "0", "6", "12", "5 hari", "")] == [
        1,
        5,
        None,
        None,
        None,
        None,
        None,
    ]
    assert parse_payload("rate:12345678:3") == ("12345678", 3)
    assert parse_payload("rate:12345678:9") is None and parse_payload("cat:jalan") is None
    assert is_low(1) and is_low(2) and not is_low(3)
    text, buttons = question(CONFIG, TRACKING, "id", 160, "numbered")
    assert buttons == () and len(text) <= 160 and TRACKING in text
    text, buttons = question(CONFIG, TRACKING, "en", 4096, "keyboard")
    assert [b.payload for b in buttons] == [f"rate:{TRACKING}:{n}" for n in range(1, 6)]
    assert all(len(b.title) <= 24 for b in buttons) and "satisfied" in text
    notice = ombudsman_notice(CONFIG, TRACKING, "id", 160)
    assert "Ombudsman" in notice and "137" in notice and len(notice) <= 160
    # Passed once when missed; twice after a further whole follow-up period, or a second deadline.
    assert follow_up_passes(0, 0, 5) == 0
    assert follow_up_passes(0, 1, 5) == 1 and follow_up_passes(0, 5, 5) == 2
    assert follow_up_passes(1, 1, 5) == 2


def test_replies_fit_one_sms() -> None:
    result = step(_filed(), _msg("1"), _ctx(max_text_length=160))
    assert all(isinstance(r, Reply) and len(r.text) <= 160 for r in result.replies)
