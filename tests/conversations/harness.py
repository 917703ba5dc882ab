"""Drive the engine from plain dicts: the scenario files and the property test share it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.base import Attachment, InboundMessage, Location
from conversations.context import Context, TicketInfo
from conversations.effects import Reply, effect_to_dict
from conversations.engine import Step, step
from conversations.events import MessageReceived, TimeoutFired
from conversations.state import ConversationState
from tests.catalogue import catalogue_config

CONFIG = catalogue_config()

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def ticket_from_dict(data: dict[str, Any]) -> TicketInfo:
    updated = data.get("updated_at")
    return TicketInfo(
        tracking=data["tracking"],
        status=data["status"],
        updated_at=datetime.fromisoformat(updated) if updated else None,
        last_update=data.get("last_update"),
        agency_name=data.get("agency_name"),
    )


def context_from_dict(data: dict[str, Any], base: Context | None = None) -> Context:
    ctx = base or Context(config=CONFIG, now=START, new_tracking="12345671")
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key == "tickets":
            changes["tickets"] = tuple(ticket_from_dict(t) for t in value)
        elif key == "now":
            changes["now"] = datetime.fromisoformat(value)
        else:
            changes[key] = value
    return replace(ctx, **changes)


def message_from_dict(data: dict[str, Any], message_id: str, channel: str) -> InboundMessage:
    attachments = tuple(
        Attachment(**({"kind": "image", "url": "https://media.example/p.jpg"} | a))
        for a in data.get("attachments", [])
    )
    location = Location(**data["location"]) if data.get("location") else None
    return InboundMessage(
        channel=channel,
        provider_message_id=data.get("id", message_id),
        sender="tel:+6281200000000",
        text=data.get("text", ""),
        kind=data.get("kind", "image" if attachments and not data.get("text") else "text"),
        attachments=attachments,
        location=location,
        language=data.get("language"),
        button_payload=data.get("button_payload"),
        command=data.get("command"),
        command_args=data.get("command_args"),
    )


def run_input(state: ConversationState, data: dict[str, Any], ctx: Context, message_id: str) -> Step:
    if "timeout" in data:
        version = state.version - 1 if data.get("stale") else state.version
        return step(state, TimeoutFired(data["timeout"], version), ctx)
    return step(state, MessageReceived(message_from_dict(data, message_id, ctx.channel)), ctx)


def advance(ctx: Context, seconds: float) -> Context:
    return replace(ctx, now=ctx.now + timedelta(seconds=seconds))


def replies_of(result: Step) -> list[dict[str, Any]]:
    out = []
    for effect in result.effects:
        if isinstance(effect, Reply):
            data = effect_to_dict(effect)
            del data["type"]
            if not data["buttons"]:
                del data["buttons"]
            if data["menu_title"] is None:
                del data["menu_title"]
            out.append(data)
    return out


def other_effects_of(result: Step) -> list[dict[str, Any]]:
    return [effect_to_dict(e) for e in result.effects if not isinstance(e, Reply)]
