"""Properties of the dialogue over arbitrary input sequences (hypothesis).

Whatever a citizen (or a misbehaving channel) sends, in whatever order, on whatever
channel: the engine never raises, every reply fits the channel, no free text is
lost, timers carry the state's version, and the conversation always has a way
forward (HELP answers, BATAL returns to a state where a new complaint starts, MULAI
ends an opt-out).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import Attachment, InboundMessage, Location
from conversations.context import Context
from conversations.effects import AppendToTicket, CreateTicket, Reply, ScheduleTimeout
from conversations.engine import Step, step
from conversations.events import MessageReceived, TimeoutFired
from conversations.state import DRAFT_STAGES, FILED, IDLE, ConversationState
from tests.catalogue import catalogue_config
from tests.conversations.harness import START, ticket_from_dict

CONFIG = catalogue_config()

KEYWORDS = [
    "halo",
    "HALO",
    "/start",
    "MULAI",
    "mulai",
    "start",
    "STOP",
    "berhenti",
    "Stpo",
    "BATAL",
    "batl",
    "BANTUAN",
    "help",
    "MENU",
    "bahasa en",
    "BAHASA ID",
    "bahasa inggris",
    "LAPOR",
    "BARU",
    "KTC",
    "STATUS",
    "status 12345671",
    "CEK 12345678",
    "cek #11111114",
    "status 1234",
    "12345671",
    "#76543216",
    "YA",
    "ya",
    "yes",
    "TIDAK",
    "no",
    "UBAH",
    "ubah lokasi",
    "UBAH KATEGORI",
    "ubah isi",
    "ubah privasi",
    "lewati",
    "biasa",
    "anonim",
    "rahasia",
    "sampah",
    "jalan",
    "lainnya",
    "isi",
    "lokasi",
    "kategori",
    "privasi",
    "1",
    "2",
    "3",
    "4",
    "8",
    "9",
    "14",
    "15",
    "0",
    "",
    "   ",
    "LAPOR#jalan#Jl. Merdeka#lubang besar sekali di tengah",
    "LAPOR##",
    "LAPOR#",
    "#",
    "!!!",
]
FREE_WORDS = [
    "jalan",
    "berlubang",
    "di",
    "Jl.",
    "Merdeka",
    "sampah",
    "menumpuk",
    "dekat",
    "pasar",
    "banjir",
    "Kel.",
    "Sukajadi",
    "lampu",
    "mati",
    "sudah",
    "seminggu",
    "tolong",
    "pak",
    "emoji 🙏",
    "RT",
    "03",
    "gang",
    "Mawar",
]
PAYLOADS = [
    "cat:jalan",
    "cat:lainnya",
    "cat:nope",
    "privacy:public",
    "privacy:confidential",
    "privacy:x",
    "confirm:yes",
    "confirm:no",
    "confirm:edit",
    "edit:location",
    "edit:description",
    "edit:category",
    "edit:privacy",
    "menu:more",
    "garbage",
    "",
]
TICKETS = (
    ticket_from_dict(
        {"tracking": "12345671", "status": "in_progress", "last_update": "x" * 400, "agency_name": "A"}
    ),
    ticket_from_dict({"tracking": "11111114", "status": "archived"}),
)


@st.composite
def inputs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "keyword",
                "keyword",
                "answer",
                "answer",
                "oneshot",
                "free",
                "free",
                "free",
                "lapor_free",
                "unicode",
                "photo",
                "pin",
                "payload",
                "timeout",
                "stale_timeout",
                "reaction",
            ]
        )
    )
    if kind == "oneshot":  # straight to the summary, so later inputs meet the confirming stage often
        return {"text": "LAPOR#jalan#Jl. Merdeka 5#lubang besar sekali di tengah jalan"}
    if kind == "answer":  # what a cooperative citizen types at a menu
        return {"text": draw(st.sampled_from(["1", "2", "3", "ya", "UBAH", "Jl. Merdeka", "2", "lewati"]))}
    if kind == "keyword":
        return {
            "text": draw(st.sampled_from(KEYWORDS)),
            "language": draw(st.sampled_from([None, "en", "id"])),
        }
    if kind in ("free", "lapor_free"):
        words = draw(st.lists(st.sampled_from(FREE_WORDS), min_size=1, max_size=40))
        return {"free": " ".join(words), "prefix": "LAPOR " if kind == "lapor_free" else ""}
    if kind == "unicode":
        return {"text": draw(st.text(max_size=300))}
    if kind == "photo":
        caption = draw(st.one_of(st.none(), st.just("Gang Mawar RT 03")))
        return {"photo": caption}
    if kind == "pin":
        return {"pin": True}
    if kind == "payload":
        return {"payload": draw(st.sampled_from(PAYLOADS)), "text": draw(st.sampled_from(["", "YA", "1"]))}
    if kind == "reaction":
        return {"reaction": True}
    return {"timeout": draw(st.sampled_from(["reminder", "expire"])), "stale": kind == "stale_timeout"}


contexts = st.builds(
    Context,
    config=st.just(CONFIG),
    channel=st.just("test"),
    menu_style=st.sampled_from(["numbered", "keyboard", "list"]),
    max_text_length=st.sampled_from([70, 160, 306, 1000, 4096]),
    now=st.just(START),
    tickets=st.sampled_from([(), TICKETS]),
    # The gateway reserves a number for every step (the engine files under no other).
    new_tracking=st.sampled_from(["12345671", "23456789"]),
)


def message(text: str = "", **extra: Any) -> MessageReceived:
    return MessageReceived(
        InboundMessage(channel="test", provider_message_id="p", sender="s", text=text, **extra)
    )


def run(state: ConversationState, data: dict[str, Any], ctx: Context, token: str) -> tuple[Step, str | None]:
    """Apply one generated input; returns the step and the free-text token it must not lose."""
    if "timeout" in data:
        version = state.version - 1 if data["stale"] else state.version
        return step(state, TimeoutFired(data["timeout"], version), ctx), None
    if "free" in data:
        text = f"{data['prefix']}{data['free']} {token}"
        return step(state, message(text), ctx), token
    if "photo" in data:
        attachment = Attachment(kind="image", url="https://m/p.jpg", caption=data["photo"])
        return step(state, message("", kind="image", attachments=(attachment,)), ctx), None
    if "pin" in data:
        return step(state, message("", kind="location", location=Location(-6.9, 107.6)), ctx), None
    if "payload" in data:
        return step(
            state, message(data["text"], kind="button", button_payload=data["payload"] or None), ctx
        ), None
    if "reaction" in data:
        return step(state, message("", kind="reaction"), ctx), None
    return step(state, message(data["text"], language=data.get("language")), ctx), None


def kept(token: str, result: Step) -> bool:
    draft = result.new_state.draft
    if draft is not None and token in json.dumps(draft.to_dict(), ensure_ascii=False):
        return True
    for effect in result.effects:
        if isinstance(effect, CreateTicket) and token in effect.description + effect.location_text:
            return True
        if isinstance(effect, AppendToTicket) and token in effect.text:
            return True
    return False


def check_step(before: ConversationState, result: Step, ctx: Context) -> None:
    after = result.new_state
    title_max = int(CONFIG.conversation.get("button_title_max", 24))
    for effect in result.effects:
        if isinstance(effect, Reply):
            assert effect.text.strip(), "empty reply"
            assert len(effect.text) <= ctx.max_text_length, (len(effect.text), effect.text)
            assert all(len(b.title) <= title_max for b in effect.buttons)
            if ctx.menu_style == "numbered":
                assert effect.buttons == ()
            if ctx.menu_style == "list":
                assert len(effect.buttons) <= 10
        if isinstance(effect, ScheduleTimeout):
            assert effect.version == after.version
    assert after.version >= before.version
    assert (after.draft is not None) == (after.stage in DRAFT_STAGES), (after.stage, after.draft)
    if after.stage == FILED:
        assert after.open_ticket
    if after.opted_out:
        assert all(not isinstance(e, Reply) for e in step(after, message("halo"), ctx).effects)
    assert ConversationState.from_dict(json.loads(json.dumps(after.to_dict()))) == after


def check_way_forward(state: ConversationState, ctx: Context) -> None:
    if state.opted_out:
        back = step(state, message("MULAI"), ctx).new_state
        assert not back.opted_out
        return
    assert step(state, message("BANTUAN"), ctx).replies, f"no answer to help in {state.stage}"
    cancelled = step(state, message("BATAL"), ctx).new_state
    assert cancelled.stage in (IDLE, FILED) and cancelled.draft is None
    restarted = step(cancelled, message("LAPOR jalan berlubang di depan pasar"), ctx).new_state
    assert restarted.draft is not None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ctx=contexts, sequence=st.lists(inputs(), min_size=1, max_size=18))
def test_no_sequence_raises_loses_text_or_gets_stuck(ctx: Context, sequence: list[dict[str, Any]]) -> None:
    state = ConversationState.new()
    for index, data in enumerate(sequence):
        result, token = run(state, data, ctx, f"zq{index}x")
        check_step(state, result, ctx)
        if token is not None and not state.opted_out:
            assert kept(token, result), f"free text lost in {state.stage}: {data}"
        state = result.new_state
        check_way_forward(state, ctx)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=2000), style=st.sampled_from(["numbered", "keyboard", "list"]))
def test_any_first_message_starts_a_complaint_or_is_answered(text: str, style: str) -> None:
    ctx = Context(config=CONFIG, menu_style=style, max_text_length=306, new_tracking="12345671")
    result = step(ConversationState.new(), message(text), ctx)
    assert result.replies, "a first message always gets an answer"
    assert all(len(r.text) <= 306 for r in result.replies)
