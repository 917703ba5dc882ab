"""GET /api/v1/messages: normalized inbound and outbound messages with delivery status.

A token reads the messages of the tickets it may see (`visibility.visible_clause`);
messages not (yet) on a ticket only with a city-wide token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, g, request
from sqlalchemy import select

from gateway.store.models import Message, Ticket
from gateway.tickets import service, visibility
from gateway.web.api.auth import api_error, audit_confidential_reads, require_token
from gateway.web.api.blueprint import api_bp
from gateway.web.api.serialize import message_json
from gateway.web.bounds import MAX_ID, parse_moment

ALLOWED = {"channel", "direction", "contact", "since", "limit", "before"}


def parse_since(value: str, name: str = "since") -> datetime:
    """ISO-8601 timestamp (a trailing Z is accepted) within the range gateway.web.bounds allows."""
    return parse_moment(value, name)


def parse_limit(value: str | None, default: int = 50, maximum: int = 500) -> int:
    if value is None:
        return default
    number = int(value)
    if not 1 <= number <= maximum:
        raise ValueError(f"limit must be between 1 and {maximum}")
    return number


@api_bp.get("/messages")
@require_token
def list_messages() -> Any:
    unknown = set(request.args) - ALLOWED
    if unknown:
        return api_error(400, "unknown_parameter", f"unknown parameter(s): {', '.join(sorted(unknown))}")
    try:
        limit = parse_limit(request.args.get("limit"))
        since = parse_since(request.args["since"]) if "since" in request.args else None
        before = int(request.args["before"]) if "before" in request.args else None
        if before is not None and not 0 <= before <= MAX_ID:
            raise ValueError(f"before must be between 0 and {MAX_ID}")
    except ValueError as exc:
        return api_error(400, "invalid_parameter", str(exc))
    direction = request.args.get("direction")
    if direction not in (None, "in", "out"):
        return api_error(400, "invalid_parameter", "direction must be 'in' or 'out'")
    actor: service.Actor = g.api_actor
    query = (
        select(Message, Ticket)
        .outerjoin(Ticket, Message.ticket_id == Ticket.id)
        .where(visibility.visible_clause(actor))
    )
    if request.args.get("channel"):
        query = query.where(Message.channel == request.args["channel"])
    if direction:
        query = query.where(Message.direction == direction)
    if request.args.get("contact"):
        # A search by address must not tell an agency who filed an anonymous ticket.
        query = query.where(
            Message.address == request.args["contact"], visibility.reveals_reporter_clause(actor)
        )
    if since is not None:
        query = query.where(Message.created_at >= since)
    if before is not None:
        query = query.where(Message.id < before)
    query = query.order_by(Message.id.desc()).limit(limit)
    runtime = current_app.extensions["lapor"]
    with runtime.db.session() as session:
        rows = session.execute(query).all()
        audit_confidential_reads(
            session, g.api_token, (ticket for _msg, ticket in rows), "confidential (messages)"
        )
        items = [message_json(msg, reveal=visibility.reveals_reporter(actor, ticket)) for msg, ticket in rows]
    next_before = items[-1]["id"] if len(items) == limit else None
    return {"messages": items, "next": {"before": next_before} if next_before else None}
