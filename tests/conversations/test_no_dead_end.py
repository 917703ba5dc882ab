"""Never a dead end: a menu answer the bot cannot place is asked once more, then the dialogue moves on.

A citizen who does not know which category a complaint belongs to ("yang lain",
"tidak tahu", a sentence) files it as "lainnya" for the coordinator to sort; the
menu offers "Lainnya / tidak tahu" on every page of every channel's rendering.
"""

from __future__ import annotations

import pytest

from adapters.base import InboundMessage
from conversations.context import Context
from conversations.effects import CreateTicket
from conversations.engine import Step, step
from conversations.events import MessageReceived
from conversations.state import ConversationState
from tests.catalogue import catalogue_config

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
TWILIO_WHATSAPP = Context(
    config=CONFIG, new_tracking="12345671", channel="twilio", menu_style="numbered", max_text_length=1600
)
TELEGRAM = Context(
    config=CONFIG, new_tracking="12345671", channel="telegram", menu_style="keyboard", max_text_length=4096
)
CHANNELS = {
    "sms160": SMS_ONE_SEGMENT,
    "sms": SMS,
    "whatsapp": WHATSAPP,
    "twilio": TWILIO_WHATSAPP,
    "telegram": TELEGRAM,
}
NOT_UNDERSTOOD = "tidak dikenali"


def _send(state: ConversationState, text: str, ctx: Context, payload: str | None = None) -> Step:
    message = InboundMessage(
        channel=ctx.channel,
        provider_message_id=f"m{state.version}",
        sender="tel:+62",
        text=text,
        button_payload=payload,
    )
    return step(state, MessageReceived(message), ctx)


def _at_category_menu(ctx: Context) -> Step:
    """A complaint no keyword places, with its location: the next question is the category menu."""
    complaint = "Pelayanan kantor sangat lambat dan petugasnya kasar"
    state = _send(ConversationState.new(), complaint, ctx).new_state
    result = _send(state, "Jl. Merdeka 5, Kel. Sukajadi", ctx)
    assert result.new_state.stage == "awaiting_category"
    return result


def _options(result: Step, ctx: Context) -> list[str]:
    """What the citizen sees as choices: the numbered lines, or the buttons' titles."""
    reply = result.replies[-1]
    if ctx.menu_style == "numbered":
        return [line.split(" ", 1)[1] for line in reply.text.splitlines() if line[:1].isdigit()]
    return [b.title for b in reply.buttons]


@pytest.mark.parametrize("ctx", CHANNELS.values(), ids=CHANNELS.keys())
def test_every_page_of_the_category_menu_offers_other_or_not_sure(ctx: Context) -> None:
    result = _at_category_menu(ctx)
    seen_pages = 0
    while True:
        options = _options(result, ctx)
        assert "Lainnya / tidak tahu" in options, options
        seen_pages += 1
        if "menu:more" not in result.new_state.menu or seen_pages > 5:
            break
        result = _send(result.new_state, "", ctx, payload="menu:more")
    menu = result.new_state.menu
    assert menu.count("cat:lainnya") == 1  # shown once per page, not twice


def test_the_other_option_is_in_english_for_english_speakers() -> None:
    state = _send(ConversationState.new(), "BAHASA EN", TELEGRAM).new_state
    state = _send(state, "The officers at the office are slow and rude every day", TELEGRAM).new_state
    result = _send(state, "Jl. Merdeka 5", TELEGRAM)
    assert "Other / not sure" in [b.title for b in result.replies[-1].buttons]


@pytest.mark.parametrize("ctx", CHANNELS.values(), ids=CHANNELS.keys())
def test_choosing_other_from_the_menu_files_as_lainnya(ctx: Context) -> None:
    result = _at_category_menu(ctx)
    index = result.new_state.menu.index("cat:lainnya")
    if ctx.menu_style == "numbered":
        result = _send(result.new_state, str(index + 1), ctx)
    else:
        result = _send(result.new_state, "", ctx, payload="cat:lainnya")
    assert result.new_state.draft is not None and result.new_state.draft.category == "lainnya"
    assert result.new_state.stage == "awaiting_privacy"


@pytest.mark.parametrize("answer", ["yang lain", "tidak tahu", "gak tau", "Lain-lain", "entah", "not sure"])
def test_answers_that_mean_i_do_not_know_file_as_lainnya_at_once(answer: str) -> None:
    result = _send(_at_category_menu(SMS).new_state, answer, SMS)
    draft = result.new_state.draft
    assert draft is not None and draft.category == "lainnya"
    assert result.new_state.stage == "awaiting_privacy"
    assert NOT_UNDERSTOOD not in result.replies[0].text
    assert answer not in draft.full_description()  # a choice, not part of the complaint


@pytest.mark.parametrize("ctx", CHANNELS.values(), ids=CHANNELS.keys())
def test_an_unplaceable_answer_is_asked_once_more_then_filed_as_lainnya(ctx: Context) -> None:
    state = _at_category_menu(ctx).new_state
    first = _send(state, "pokoknya petugasnya harus ditegur", ctx)
    assert first.new_state.stage == "awaiting_category"  # one retry, with the menu again
    assert NOT_UNDERSTOOD in first.replies[0].text and "LAINNYA" in first.replies[0].text
    second = _send(first.new_state, "99", ctx)
    assert second.new_state.stage == "awaiting_privacy"
    draft = second.new_state.draft
    assert draft is not None and draft.category == "lainnya"
    assert "Lainnya" in second.replies[0].text
    assert NOT_UNDERSTOOD not in " ".join(r.text for r in second.replies)
    assert "pokoknya petugasnya harus ditegur" in draft.full_description()  # no word lost


def test_the_dialogue_never_loops_on_not_understood() -> None:
    """Whatever the citizen types, at most one "not recognised" per question, and the ticket gets filed."""
    ctx = Context(
        config=CONFIG, channel="sms", menu_style="numbered", max_text_length=306, new_tracking="12345671"
    )
    state = _at_category_menu(ctx).new_state
    refusals = 0
    for _ in range(8):
        result = _send(state, "hmm saya kurang paham maksudnya", ctx)
        state = result.new_state
        refusals += sum(NOT_UNDERSTOOD in r.text for r in result.replies)
        if state.stage == "confirming":
            break
    assert state.stage == "confirming"
    assert refusals <= 2  # one for the category menu, one for the privacy menu
    assert state.draft is not None and state.draft.category == "lainnya"
    assert state.draft.privacy == "anonymous"  # the safe default, shown in the summary
    filed = _send(state, "YA", ctx)
    created = [e for e in filed.effects if isinstance(e, CreateTicket)]
    assert created and created[0].category == "lainnya"


def test_an_unknown_answer_in_the_edit_menu_goes_back_to_the_summary() -> None:
    state = ConversationState.new()
    for text in ("LAPOR#jalan#Jl. Merdeka 5#Lubang besar di tengah jalan", "UBAH"):
        state = _send(state, text, SMS).new_state
    assert state.stage == "editing"
    state = _send(state, "apa ya", SMS).new_state
    assert state.stage == "editing"
    result = _send(state, "entahlah", SMS)
    assert result.new_state.stage == "confirming"
    assert "YA" in result.replies[-1].text
