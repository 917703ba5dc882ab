"""Emergencies first: the numbers come in the first reply, before any question, on every channel.

Then the intake goes on as usual (the citizen may still file), and the ticket it
files is flagged so the inbox puts it at the top.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.base import InboundMessage
from adapters.sms.segments import split_segments
from conversations.context import Context, TicketInfo
from conversations.effects import AppendToTicket, CreateTicket, DraftExpired, FlagEmergency, Reply
from conversations.engine import Step, step
from conversations.events import MessageReceived, TimeoutFired
from conversations.state import ConversationState
from tests.catalogue import catalogue_config, deploy_folder, snapshot_of
from tests.conversations.harness import advance

CONFIG = catalogue_config()

SMS_ONE_SEGMENT = Context(
    config=CONFIG, new_tracking="12345671", channel="sms", menu_style="numbered", max_text_length=160
)
SMS = Context(
    config=CONFIG, new_tracking="12345671", channel="sms", menu_style="numbered", max_text_length=306
)
WHATSAPP = Context(
    config=CONFIG, new_tracking="12345671", channel="whatsapp", menu_style="list", max_text_length=4096
)
TELEGRAM = Context(
    config=CONFIG, new_tracking="12345671", channel="telegram", menu_style="keyboard", max_text_length=4096
)
CHANNELS = {"sms160": SMS_ONE_SEGMENT, "sms": SMS, "whatsapp": WHATSAPP, "telegram": TELEGRAM}

QUESTION_WORDS = ("di mana", "lokasi", "kategori", "identitas", "ceritakan", "balas ya")


def _send(state: ConversationState, text: str, ctx: Context, **extra: Any) -> Step:
    message = InboundMessage(
        channel=ctx.channel, provider_message_id=f"m{state.version}", sender="tel:+62", text=text, **extra
    )
    return step(state, MessageReceived(message), ctx)


def _is_numbers(reply: Reply) -> bool:
    return "112" in reply.text


@pytest.mark.parametrize("ctx", CHANNELS.values(), ids=CHANNELS.keys())
@pytest.mark.parametrize(
    "text",
    ["Tolong rumah saya kebakaran!!", "kecelakaan di perempatan, korban tidak sadarkan diri", "TOLONG"],
)
def test_the_first_reply_to_an_emergency_is_the_numbers_before_any_question(ctx: Context, text: str) -> None:
    result = _send(ConversationState.new(), text, ctx)
    first, *rest = result.replies
    assert "112" in first.text and "110" in first.text and "113" in first.text and "119" in first.text
    assert not any(word in first.text.lower() for word in QUESTION_WORDS), first.text
    assert first.buttons == ()  # nothing to pick: just the numbers
    # The intake goes on: a question follows in a reply of its own.
    assert rest and any(word in r.text.lower() for r in rest for word in QUESTION_WORDS)


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("reply", ["general", "disaster", "violence", "self_harm"])
def test_every_emergency_text_fits_one_gsm7_sms_segment(language: str, reply: str) -> None:
    from conversations import texts
    from conversations.emergency import numbers

    text = texts.text(CONFIG, f"emergency.{reply}", language, **numbers(CONFIG))
    assert "{" not in text and "112" in text
    plan = split_segments(text)
    assert plan.encoding == "gsm7" and plan.count == 1, (len(text), text)


def test_self_harm_gets_the_mental_health_line() -> None:
    result = _send(ConversationState.new(), "saya sudah tidak kuat, mau bunuh diri", SMS)
    assert "119 ext 8" in result.replies[0].text and "112" in result.replies[0].text


def test_english_speakers_get_the_numbers_in_english() -> None:
    state = _send(ConversationState.new(), "BAHASA EN", TELEGRAM).new_state
    result = _send(state, "My neighbour's house is on fire", TELEGRAM)
    assert result.replies[0].text.startswith("EMERGENCY?")


def test_a_near_miss_gets_no_numbers() -> None:
    result = _send(ConversationState.new(), "Lampu jalan mati di Jl. Melati sudah seminggu", SMS)
    assert not any(_is_numbers(r) for r in result.replies)
    assert result.new_state.emergency is None


def test_an_emergency_in_the_middle_of_a_draft_still_comes_first() -> None:
    first = "Pelayanan kantor sangat lambat dan petugasnya kasar"
    state = _send(ConversationState.new(), first, SMS).new_state
    assert state.stage == "awaiting_location"
    result = _send(state, "ada orang pingsan di depan kantor, tolong", SMS)
    assert _is_numbers(result.replies[0])
    assert result.new_state.emergency == "medical"


def test_the_filed_ticket_is_flagged_as_an_emergency() -> None:
    ctx = Context(
        config=CONFIG, channel="whatsapp", menu_style="list", max_text_length=4096, new_tracking="12345671"
    )
    state = ConversationState.new()
    for text in ("Tolong, gudang di Jl. Pasar 3 kebakaran, api besar", "lainnya", "ANONIM"):
        state = _send(state, text, ctx).new_state
    assert state.stage == "confirming"
    result = _send(state, "YA", ctx)
    created = [e for e in result.effects if isinstance(e, CreateTicket)]
    flags = [e for e in result.effects if isinstance(e, FlagEmergency)]
    assert [c.tracking for c in created] == ["12345671"]
    assert flags == [FlagEmergency("12345671", "fire")]
    assert result.effects.index(flags[0]) > result.effects.index(created[0])  # the ticket exists first
    assert result.new_state.emergency is None  # the next complaint starts unflagged


def test_a_follow_up_that_is_an_emergency_flags_the_open_ticket() -> None:
    last = "2026-01-05T08:00:00+00:00"
    state = ConversationState(stage="filed", open_ticket="12345671", last_activity=last)
    ctx = Context(config=CONFIG, tickets=(TicketInfo("12345671", "dispatched"),))
    result = _send(state, "sekarang malah kebakaran, api membesar!", ctx)
    assert _is_numbers(result.replies[0])
    kinds = [type(e) for e in result.effects]
    assert AppendToTicket in kinds
    assert FlagEmergency("12345671", "fire") in result.effects


def test_the_numbers_are_not_repeated_with_every_message_but_are_after_a_while() -> None:
    state = _send(ConversationState.new(), "Tolong rumah saya kebakaran", SMS).new_state
    again = _send(state, "kebakaran di Jl. Melati 4, cepat", SMS)
    assert not any(_is_numbers(r) for r in again.replies)
    later = _send(again.new_state, "api makin besar, kebakaran merembet", advance(SMS, 601))
    assert _is_numbers(later.replies[0])


def test_a_different_emergency_text_is_not_held_back_by_the_first() -> None:
    state = _send(ConversationState.new(), "Tolong rumah saya kebakaran", SMS).new_state
    result = _send(state, "saya pengen mati saja", SMS)
    assert "119 ext 8" in result.replies[0].text


def test_an_opted_out_citizen_still_gets_the_numbers_and_nothing_else() -> None:
    state = ConversationState(opted_out=True)
    result = _send(state, "tolong ada anak tenggelam di kali", SMS)
    assert [r.text for r in result.replies] and _is_numbers(result.replies[0])
    assert len(result.replies) == 1
    assert result.new_state.opted_out and result.new_state.draft is None
    assert _send(state, "jalan rusak", SMS).effects == []  # an ordinary message: silence as before


def test_an_expired_emergency_draft_keeps_its_kind_for_the_operators() -> None:
    state = _send(ConversationState.new(), "tolong suami saya memukuli saya", SMS).new_state
    reminder = step(state, TimeoutFired("reminder", state.version), SMS)
    expired = step(reminder.new_state, TimeoutFired("expire", reminder.new_state.version), SMS)
    drafts = [e for e in expired.effects if isinstance(e, DraftExpired)]
    assert drafts and drafts[0].draft["emergency"] == "violence"
    assert expired.new_state.emergency is None


def test_cancelling_drops_the_flag_with_the_draft() -> None:
    state = _send(ConversationState.new(), "Tolong rumah saya kebakaran", SMS).new_state
    assert state.emergency == "fire"
    assert _send(state, "BATAL", SMS).new_state.emergency is None


def test_keywords_are_never_read_as_emergencies() -> None:
    from conversations.emergency import detect
    from conversations.keywords import WHOLE_MESSAGE

    for group in WHOLE_MESSAGE:
        for word in CONFIG.keywords.words(group):
            assert detect(CONFIG, word) is None, word


def test_a_deployer_changes_the_numbers_in_config(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "emergency.yaml"
    text = shipped.read_text(encoding="utf-8").replace('general: "112"', 'general: "112 atau 0274555"')
    folder = deploy_folder(tmp_path)
    (folder / "emergency.yaml").write_text(text, encoding="utf-8")
    result = _send(
        ConversationState.new(), "Tolong rumah saya kebakaran", replace(SMS, config=snapshot_of(folder))
    )
    assert "112 atau 0274555" in result.replies[0].text


@pytest.mark.parametrize(
    ("text", "privacy"),
    [
        ("saya mau bunuh diri, tidak kuat lagi hidup begini", "confidential"),  # never on the public page
        ("tolong suami saya memukuli saya setiap malam", "confidential"),  # a victim's address neither
        ("Tolong, gudang di Jl. Pasar 3 kebakaran, api besar", None),  # a fire: asked as usual
    ],
)
def test_self_harm_and_violence_are_filed_confidential_unless_the_citizen_chooses(
    text: str, privacy: str | None
) -> None:
    state = _send(ConversationState.new(), text, SMS).new_state
    assert state.draft is not None and state.draft.privacy == privacy
    if privacy:
        state = _send(state, "Jl. Melati 4", SMS).new_state
        summary = _send(state, "lainnya", SMS)
        state = summary.new_state
        assert state.stage == "confirming"  # the privacy question is not asked...
        assert "RAHASIA" in summary.replies[-1].text  # ...but shown, and UBAH can change it
        filed = _send(state, "YA", SMS)
        created = [e for e in filed.effects if isinstance(e, CreateTicket)]
        assert created and created[0].privacy == "confidential"
        assert created[0].privacy_chosen is False  # the rule chose, not the citizen


def test_violence_reported_at_the_privacy_question_moves_on_to_a_confidential_summary() -> None:
    state = ConversationState.new()
    for text in ("Pelayanan kantor sangat lambat dan petugasnya kasar", "Jl. Melati 4", "lainnya"):
        state = _send(state, text, SMS).new_state
    assert state.stage == "awaiting_privacy"
    result = _send(state, "tolong saya dipukuli petugasnya sekarang", SMS)
    assert _is_numbers(result.replies[0])
    assert result.new_state.stage == "confirming"
    assert "RAHASIA" in result.replies[-1].text
    assert not any("tidak dikenali" in r.text for r in result.replies)
