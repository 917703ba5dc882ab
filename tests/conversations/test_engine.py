"""The dialogue, scenario by scenario (tests/conversations/scenarios/*.json), plus focused checks.

Each scenario file holds a context and a list of steps: an input (a message or a
timeout) and what is expected afterwards: the stage, substrings the replies must
contain (written by hand), and the exact replies and effects (regenerated with
REGENERATE_SCENARIOS=1 and reviewed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.base import InboundMessage
from conversations.context import Context
from conversations.effects import CreateTicket, Reply, ScheduleTimeout
from conversations.engine import step
from conversations.events import MessageReceived, TimeoutFired
from conversations.state import ConversationState
from tests.catalogue import catalogue_config, deploy_folder, snapshot_of
from tests.conversations.harness import (
    advance,
    context_from_dict,
    other_effects_of,
    replies_of,
    run_input,
)

CONFIG = catalogue_config()

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.json"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path, regen: bool) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = document["steps"] if isinstance(document, dict) else document
    ctx = context_from_dict(document.get("context", {}) if isinstance(document, dict) else {})
    state = ConversationState.from_dict(document.get("state")) if isinstance(document, dict) else None
    state = state or ConversationState.new()
    failures: list[str] = []
    for index, item in enumerate(steps, start=1):
        if "context" in item:
            ctx = context_from_dict(item["context"], ctx)
        data = item["input"]
        if data.get("after_seconds"):
            ctx = advance(ctx, data["after_seconds"])
        result = run_input(state, data, ctx, f"m{index}")
        state = result.new_state
        replies = replies_of(result)
        effects = other_effects_of(result)
        expect = item.setdefault("expect", {})
        where = f"{path.name} step {index} ({json.dumps(data, ensure_ascii=False)})"
        for reply in replies:
            assert len(reply["text"]) <= ctx.max_text_length, f"{where}: reply longer than the channel allows"
        all_text = "\n".join(r["text"] for r in replies)
        for needle in expect.get("replies_contain", []):
            if needle.lower() not in all_text.lower():
                failures.append(f"{where}: no reply contains {needle!r}; got {all_text!r}")
        if regen:
            expect["stage"] = state.stage
            expect["replies"] = replies
            expect["effects"] = effects
            continue
        if "stage" in expect and expect["stage"] != state.stage:
            failures.append(f"{where}: stage {state.stage!r}, expected {expect['stage']!r}")
        if "replies" in expect and expect["replies"] != replies:
            failures.append(f"{where}: replies differ\n  got      {replies}\n  expected {expect['replies']}")
        if "effects" in expect and expect["effects"] != effects:
            failures.append(f"{where}: effects differ\n  got      {effects}\n  expected {expect['effects']}")
        # The state survives its JSON form unchanged, as the gateway stores it.
        assert ConversationState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    if regen:
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert not failures, "\n".join(failures)


def _send(state: ConversationState, text: str, ctx: Context, **extra: Any) -> Any:
    message = InboundMessage(
        channel=ctx.channel, provider_message_id="x", sender="tel:+62", text=text, **extra
    )
    return step(state, MessageReceived(message), ctx)


def test_step_does_not_modify_the_state_it_was_given() -> None:
    state = ConversationState.new()
    before = state.to_dict()
    _send(
        state,
        "Sampah menumpuk di Jl. Merdeka sudah seminggu",
        Context(config=CONFIG),
    )
    assert state.to_dict() == before


def test_every_message_step_in_a_draft_schedules_a_reminder_for_the_new_version() -> None:
    result = _send(
        ConversationState.new(),
        "Jalan berlubang besar di Jl. Merdeka",
        Context(config=CONFIG),
    )
    timeouts = [e for e in result.effects if isinstance(e, ScheduleTimeout)]
    assert timeouts == [ScheduleTimeout("reminder", 3600, result.new_state.version)]


def test_context_overrides_the_configured_timings_and_minimum_length() -> None:
    ctx = Context(config=CONFIG, idle_reminder_seconds=60, min_description_length=40)
    result = _send(ConversationState.new(), "Jalan berlubang di Jl. Merdeka", ctx)
    assert result.new_state.stage == "collecting"  # 30 letters < 40
    assert ScheduleTimeout("reminder", 60, result.new_state.version) in result.effects


def test_filing_uses_the_reserved_tracking_number_and_the_configured_deadlines() -> None:
    ctx = Context(config=CONFIG, new_tracking="76543216")
    state = ConversationState.new()
    for text in ("LAPOR#jalan#Jl. Merdeka 5#Lubang besar di tengah jalan", "YA"):
        result = _send(state, text, ctx)
        state = result.new_state
    created = [e for e in result.effects if isinstance(e, CreateTicket)]
    assert [c.tracking for c in created] == ["76543216"]
    assert created[0].privacy == "anonymous"  # the one-shot form never asked
    reply = next(e for e in result.effects if isinstance(e, Reply)).text
    assert "#76543216" in reply and "3 hari kerja" in reply and "5 hari kerja" in reply


def test_a_stale_timeout_changes_nothing() -> None:
    state = _send(
        ConversationState.new(), "Jalan berlubang besar di Jl. Merdeka", Context(config=CONFIG)
    ).new_state
    result = step(state, TimeoutFired("reminder", state.version - 1), Context(config=CONFIG))
    assert result.new_state == state and result.effects == []


def _deployer_texts(tmp_path: Path, content: str) -> Context:
    """A context whose snapshot has a deployer's messages/id.yaml holding only ``content``."""
    folder = deploy_folder(tmp_path)
    (folder / "messages").mkdir()
    (folder / "messages" / "id.yaml").write_text(content, encoding="utf-8")
    return Context(config=snapshot_of(folder), new_tracking="12345671")


def test_a_deployer_copy_of_the_messages_overrides_one_text_and_keeps_the_rest(tmp_path: Path) -> None:
    ctx = _deployer_texts(tmp_path, 'cancelled: "Oke, dibatalkan."\n')
    state = _send(ConversationState.new(), "Jalan berlubang besar di Jl. Merdeka", ctx).new_state
    result = _send(state, "BATAL", ctx)
    assert [r.text for r in result.replies] == ["Oke, dibatalkan."]
    result = _send(ConversationState.new(), "BANTUAN", ctx)
    assert "STATUS" in result.replies[0].text  # not in the deployer's file: the shipped text


def test_a_deployer_placeholder_typo_shows_instead_of_crashing(tmp_path: Path) -> None:
    ctx = _deployer_texts(tmp_path, 'filed: "Nomor {trakcing} diterima {"\n')
    state = _send(
        ConversationState.new(), "LAPOR#jalan#Jl. Merdeka#Lubang besar di tengah jalan", ctx
    ).new_state
    result = _send(state, "YA", ctx)
    assert result.new_state.stage == "filed"
    assert "{trakcing}" in result.replies[0].text


def test_without_a_reserved_tracking_number_nothing_is_filed_under_a_made_up_one() -> None:
    ctx = Context(config=CONFIG)  # no new_tracking: the engine draws no random number of its own
    state = _send(
        ConversationState.new(), "LAPOR#jalan#Jl. Merdeka 5#Lubang besar di tengah jalan", ctx
    ).new_state
    with pytest.raises(ValueError, match="tracking number"):
        _send(state, "YA", ctx)
