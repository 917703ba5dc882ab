"""``/start <code>``: Telegram's deep link from the web form's receipt is a FollowTicket effect."""

from __future__ import annotations

from adapters.base import InboundMessage
from conversations.context import Context
from conversations.effects import CreateTicket, FollowTicket, SetOptOut
from conversations.engine import deep_link_code, step
from conversations.events import MessageReceived
from conversations.state import ConversationState
from tests.catalogue import catalogue_config

CTX = Context(config=catalogue_config(), channel="telegram", new_tracking="12345674")


def _text(text: str) -> InboundMessage:
    return InboundMessage(
        channel="telegram", provider_message_id="1", sender="telegram:5550101", text=text, kind="text"
    )


def test_the_start_parameter_is_read_and_nothing_else() -> None:
    assert deep_link_code("/start f12345674_abc_0123456789abcdefABCD") == "f12345674_abc_0123456789abcdefABCD"
    assert deep_link_code("/start@LaporGatewayBot abc-DEF_1") == "abc-DEF_1"
    assert deep_link_code("/start") is None  # the greeting
    assert deep_link_code("/start two words") is None
    assert deep_link_code("start abc") is None
    assert deep_link_code("/start " + "a" * 65) is None  # longer than Telegram allows


def test_a_deep_link_becomes_a_follow_effect_not_a_complaint() -> None:
    result = step(ConversationState.new(), MessageReceived(_text("/start fABC_1_0123456789abcdef")), CTX)
    assert FollowTicket("fABC_1_0123456789abcdef") in result.effects
    assert not [e for e in result.effects if isinstance(e, CreateTicket)]
    assert result.new_state.draft is None  # no draft started from the code


def test_opening_the_link_after_stop_opts_back_in() -> None:
    stopped = ConversationState.new()
    stopped.opted_out = True
    result = step(stopped, MessageReceived(_text("/start code123")), CTX)
    assert result.effects[:2] == [SetOptOut(False), FollowTicket("code123")]
    assert result.new_state.opted_out is False
