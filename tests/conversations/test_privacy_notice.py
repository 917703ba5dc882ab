"""The privacy notice (UU 27/2022) a citizen gets once per channel, at first contact."""

from __future__ import annotations

from dataclasses import replace

from conversations import texts
from conversations.context import Context
from conversations.effects import Reply
from conversations.engine import Step
from conversations.state import ConversationState
from tests.catalogue import catalogue_config
from tests.conversations.harness import START, run_input

CONFIG = catalogue_config()

SMS = Context(
    config=CONFIG, channel="sms", max_text_length=306, now=START, new_tracking="12345671", retention_months=24
)
TELEGRAM = replace(SMS, channel="telegram", menu_style="keyboard", max_text_length=4096)


def _say(state: ConversationState, text: str, ctx: Context) -> Step:
    return run_input(state, {"text": text}, ctx, f"m{state.version}")


def _replies(result: Step) -> list[str]:
    return [e.text for e in result.effects if isinstance(e, Reply)]


def _notices(result: Step) -> int:
    """How many replies carry the notice (either variant): it names the law every time."""
    return sum("UU 27/2022" in text for text in _replies(result))


def test_the_first_sms_reply_carries_the_notice_without_an_extra_message() -> None:
    result = _say(ConversationState.new(), "halo", SMS)
    replies = _replies(result)
    assert len(replies) == 1
    assert _notices(result) == 1
    assert "24" in replies[0]  # how long data is kept
    assert all(len(r) <= SMS.max_text_length for r in replies)


def test_the_notice_is_sent_once_per_channel() -> None:
    first = _say(ConversationState.new(), "Jalan berlubang besar di depan SDN 3 Sukamaju", SMS)
    assert _notices(first) == 1
    second = _say(first.new_state, "Jl. Merdeka 10", SMS)
    assert _notices(second) == 0
    # The same citizen writes on Telegram for the first time: told once there too.
    on_telegram = _say(second.new_state, "halo", TELEGRAM)
    assert _notices(on_telegram) == 1
    assert _notices(_say(on_telegram.new_state, "halo", TELEGRAM)) == 0
    assert _notices(_say(on_telegram.new_state, "halo", SMS)) == 0


def test_a_first_reply_too_long_to_share_gets_the_short_notice_or_one_short_extra_reply() -> None:
    narrow = replace(SMS, max_text_length=160)
    result = _say(
        ConversationState.new(), "Sampah menumpuk di pasar Sukamaju sudah seminggu, bau sekali", narrow
    )
    replies = _replies(result)
    assert _notices(result) == 1
    assert all(len(r) <= narrow.max_text_length for r in replies)
    without = _say(ConversationState.new(), "x", replace(narrow, retention_months=None))
    assert len(replies) <= len(_replies(without)) + 1


def test_keep_forever_is_said_as_such() -> None:
    result = _say(ConversationState.new(), "halo", replace(SMS, retention_months=0))
    assert _notices(result) == 1
    notice = texts.text(CONFIG, "privacy_notice.kept_short", "id")
    assert notice.split(":")[0] in _replies(result)[0]
    assert "0 bulan" not in _replies(result)[0]


def test_english_citizens_read_it_in_english() -> None:
    state = ConversationState.new(language="en")
    result = _say(state, "hello", SMS)
    assert _notices(result) == 1
    assert "months" in " ".join(_replies(result))


def test_no_notice_while_opted_out_and_none_for_stop() -> None:
    stopped = _say(ConversationState.new(), "STOP", SMS)
    assert _notices(stopped) == 0
    assert _notices(_say(stopped.new_state, "halo", SMS)) == 0  # silence while opted out
    back = _say(stopped.new_state, "MULAI", SMS)
    assert _notices(back) == 1


def test_the_engine_says_nothing_it_was_not_told() -> None:
    """Without the retention period in the context the engine cannot state it, so it does not try."""
    result = _say(ConversationState.new(), "halo", replace(SMS, retention_months=None))
    assert _notices(result) == 0
    assert result.new_state.privacy_noticed == []
