"""JSON shapes of API resources, with the reporter hidden where privacy requires it.

``reveal`` is `visibility.reveals_reporter` for the token's actor. Without it the
reporter's address and name, the provider's message id (a WhatsApp ``wamid``
encodes the sender's number) and the exact pin (a shared location is often the
reporter's home) are left out: coordinates are rounded to about 100 m.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.store.models import Message, Ticket, TicketEvent
from gateway.tickets.visibility import coarse_coordinate


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _coarse_location(location: dict[str, Any] | None) -> dict[str, Any] | None:
    """A shared pin without the reporter: rounded, and without the name or address it was given."""
    if not location:
        return location
    return {
        "latitude": coarse_coordinate(location.get("latitude")),
        "longitude": coarse_coordinate(location.get("longitude")),
    }


def message_json(msg: Message, *, reveal: bool) -> dict[str, Any]:
    return {
        "id": msg.id,
        "direction": msg.direction,
        "channel": msg.channel,
        "provider_message_id": msg.provider_message_id if reveal else None,
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
        "location": msg.location if reveal else _coarse_location(msg.location),
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
            "latitude": ticket.latitude if reveal else coarse_coordinate(ticket.latitude),
            "longitude": ticket.longitude if reveal else coarse_coordinate(ticket.longitude),
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
