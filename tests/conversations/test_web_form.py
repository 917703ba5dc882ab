"""The engine and the web form: a complete submission is filed in one step, whatever else is going on."""

from __future__ import annotations

from adapters.base import Attachment, InboundMessage, Location
from adapters.web import WebForm, form_message
from conversations.context import Context
from conversations.effects import CreateTicket, FlagEmergency, Reply, SetLanguage
from conversations.engine import step
from conversations.events import MessageReceived
from conversations.state import AWAITING_LOCATION, FILED, ConversationState
from tests.catalogue import catalogue_config

CONFIG = catalogue_config()

CTX = Context(config=CONFIG, channel="web", new_tracking="12345674")


def _form(text: str, sender: str = "web:f1", **fields: object) -> InboundMessage:
    form = WebForm(**{"place": "Jl. Kenanga 5", "privacy": "anonymous", **fields})  # type: ignore[arg-type]
    return form_message("f1", sender, text, form, language="id")


def _ticket(effects: list[object]) -> CreateTicket:
    [ticket] = [e for e in effects if isinstance(e, CreateTicket)]
    return ticket


def test_a_complete_form_is_filed_at_once_without_questions() -> None:
    pin = Location(-6.9, 107.6)
    photo = Attachment(kind="image", content_type="image/png")
    message = form_message(
        "f1",
        "web:f1",
        "Lampu jalan mati sudah seminggu, gelap sekali",
        WebForm(place="Jl. Kenanga 5", privacy="public"),
        location=pin,
        attachments=(photo,),
    )
    result = step(ConversationState.new(), MessageReceived(message), CTX)
    assert result.new_state.stage == FILED and result.new_state.draft is None
    ticket = _ticket(result.effects)
    assert ticket.tracking == "12345674"
    assert (ticket.location_text, ticket.location, ticket.privacy) == ("Jl. Kenanga 5", pin, "public")
    assert ticket.category == "penerangan"  # guessed from the words, as in any channel
    assert ticket.attachments == (photo,) and ticket.message_ids == ("f1",)
    [reply] = result.replies
    assert "#12345674" in reply.text and "Lacak Laporan" in reply.text  # for the page, not "reply to this"


def test_the_category_chosen_on_the_form_wins_and_an_unplaceable_one_goes_to_lainnya() -> None:
    chosen = step(
        ConversationState.new(), MessageReceived(_form("Ada masalah di sini", category="jalan")), CTX
    )
    assert _ticket(chosen.effects).category == "jalan"
    unplaced = step(ConversationState.new(), MessageReceived(_form("Ada masalah di sini")), CTX)
    assert _ticket(unplaced.effects).category == "lainnya"


def test_keywords_in_a_form_are_words_of_the_complaint() -> None:
    result = step(ConversationState.new(), MessageReceived(_form("STOP")), CTX)
    assert _ticket(result.effects).description == "STOP"
    assert not result.new_state.opted_out


def test_an_sms_draft_in_progress_is_left_as_it_was() -> None:
    sms = Context(config=CONFIG, channel="sms", new_tracking="12345682")
    first = InboundMessage(
        channel="sms",
        provider_message_id="s1",
        sender="tel:+6281234567001",
        text="Sampah menumpuk sudah seminggu",
    )
    halfway = step(ConversationState.new(), MessageReceived(first), sms).new_state
    assert halfway.stage == AWAITING_LOCATION
    web = step(
        halfway, MessageReceived(_form("Lampu jalan mati sudah seminggu", sender="tel:+6281234567001")), CTX
    )
    assert _ticket(web.effects).description == "Lampu jalan mati sudah seminggu"
    assert web.new_state.stage == AWAITING_LOCATION  # the SMS question still stands
    assert (
        web.new_state.draft is not None
        and web.new_state.draft.description == "Sampah menumpuk sudah seminggu"
    )
    assert web.new_state.open_ticket == "12345674"
    [reply] = web.replies
    assert "STATUS 12345674" in reply.text  # by SMS: the ordinary confirmation, which can be answered
    answer = InboundMessage(
        channel="sms", provider_message_id="s2", sender="tel:+6281234567001", text="Pasar Baru"
    )
    after = step(web.new_state, MessageReceived(answer), sms)
    assert after.new_state.draft is not None and after.new_state.draft.location_text == "Pasar Baru"


def test_language_follows_the_page() -> None:
    message = form_message(
        "f2", "web:f2", "Street light broken for a week", WebForm(place="Jl. Kenanga 5"), language="en"
    )
    result = step(ConversationState.new(), MessageReceived(message), CTX)
    assert SetLanguage("en") in result.effects
    assert _ticket(result.effects).language == "en"
    assert result.replies[0].text.startswith("Thank you")


def test_an_opted_out_citizen_is_filed_but_not_answered_except_in_an_emergency() -> None:
    stopped = ConversationState.new()
    stopped.opted_out = True
    quiet = step(stopped, MessageReceived(_form("Lampu jalan mati sudah seminggu")), CTX)
    assert _ticket(quiet.effects) and quiet.replies == []
    fire = step(stopped, MessageReceived(_form("Kebakaran rumah di gang Mawar, api besar, tolong")), CTX)
    assert _ticket(fire.effects)
    assert [e for e in fire.effects if isinstance(e, FlagEmergency)]
    [numbers] = fire.replies
    assert "113" in numbers.text


def test_a_form_without_words_starts_an_ordinary_draft() -> None:
    result = step(ConversationState.new(), MessageReceived(_form("")), CTX)
    assert not [e for e in result.effects if isinstance(e, CreateTicket)]
    assert result.new_state.draft is not None
    assert all(isinstance(r, Reply) for r in result.replies)
