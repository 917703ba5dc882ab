"""JSON shapes of API resources, with the reporter hidden where privacy requires it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.models import Message, Ticket, TicketEvent


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def reveal_reporter(ticket: Ticket | None, agency_scoped: bool) -> bool:
    """Agencies never see the reporter of an anonymous or confidential ticket."""
    if ticket is None:
        return not agency_scoped
    if ticket.privacy in ("anonymous", "confidential"):
        return not agency_scoped
    return True


def message_json(msg: Message, *, reveal: bool) -> dict[str, Any]:
    return {
        "id": msg.id,
        "direction": msg.direction,
        "channel": msg.channel,
        "provider_message_id": msg.provider_message_id,
        "contact": (msg.address if reveal else None),
        "sender" if msg.direction == "in" else "recipient": (msg.address if reveal else "Pelapor anonim"),
        "sender_name": (msg.sender_name if reveal else None) if msg.direction == "in" else None,
        "author": msg.author,
        "kind": msg.kind,
        "text": msg.text,
        "attachments": [
            {k: a.get(k) for k in ("kind", "content_type", "filename", "caption", "size", "stored_path")}
            for a in (msg.attachments or [])
        ],
        "location": msg.location,
        "ticket": msg.ticket_id,
        "delivery_status": msg.delivery_status,
        "failure_reason": msg.failure_reason,
        "created_at": iso(msg.created_at),
        "sent_at": iso(msg.sent_at),
    }


def event_json(event: TicketEvent) -> dict[str, Any]:
    return {
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "actor": event.actor_label or event.actor_type,
        "note": event.note,
        "at": iso(event.created_at),
    }


def ticket_json(ticket: Ticket, *, reveal: bool) -> dict[str, Any]:
    return {
        "tracking": ticket.tracking,
        "status": ticket.status,
        "agency": ticket.agency.code if ticket.agency else None,
        "agency_name": ticket.agency.name if ticket.agency else None,
        "category": ticket.category,
        "description": ticket.description,
        "location": {
            "text": ticket.location_text,
            "latitude": ticket.latitude,
            "longitude": ticket.longitude,
        },
        "privacy": ticket.privacy,
        "channel": ticket.channel,
        "reporter": (ticket.address if reveal else None),
        "language": ticket.language,
        "deadline": ticket.deadline.isoformat() if ticket.deadline else None,
        "overdue": ticket.overdue,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "resolved_at": iso(ticket.resolved_at),
    }
