"""GET /api/v1/tickets and /api/v1/tickets/<tracking>: tickets, history and thread.

A token sees what `visibility.can_see` allows its actor: an agency-scoped
token only the tickets disposed to its agency (not those still waiting for the
coordinator); any other answers 404, the same as a ticket that does not exist, so
a token cannot probe for numbers. The reporter shows where `reveals_reporter` says.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from sqlalchemy import or_, select

from gateway.store.models import Agency, Message, Ticket
from gateway.tickets import service, visibility
from gateway.web.api.auth import api_error, audit_confidential_reads, require_token
from gateway.web.api.blueprint import api_bp
from gateway.web.api.messages import parse_limit, parse_since
from gateway.web.api.serialize import event_json, message_json, ticket_json

LIST_ALLOWED = {"status", "agency", "channel", "since", "q", "limit", "page"}
STATUSES = {"unverified", "deferred", "dispatched", "in_progress", "resolved", "archived"}


@api_bp.get("/tickets")
@require_token
def list_tickets() -> Any:
    unknown = set(request.args) - LIST_ALLOWED
    if unknown:
        return api_error(400, "unknown_parameter", f"unknown parameter(s): {', '.join(sorted(unknown))}")
    try:
        limit = parse_limit(request.args.get("limit"))
        page = int(request.args.get("page", "1"))
        if page < 1 or page > 100_000:
            raise ValueError("page must be between 1 and 100000")
        since = parse_since(request.args["since"]) if "since" in request.args else None
    except ValueError as exc:
        return api_error(400, "invalid_parameter", str(exc))
    if len(request.args.get("q", "")) > 200:
        return api_error(400, "invalid_parameter", "q is longer than 200 characters")
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        return api_error(400, "invalid_parameter", f"status must be one of {', '.join(sorted(STATUSES))}")
    actor: service.Actor = g.api_actor
    query = visibility.visible_tickets_query(actor).outerjoin(Agency, Ticket.agency_id == Agency.id)
    if status:
        query = query.where(Ticket.status == status)
    if request.args.get("agency"):
        query = query.where(Agency.code == request.args["agency"])
    if request.args.get("channel"):
        query = query.where(Ticket.channel == request.args["channel"])
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    if request.args.get("q"):
        needle = request.args["q"].strip().lstrip("#")[:200]
        query = query.where(or_(Ticket.tracking == needle, Ticket.description.ilike(f"%{needle}%")))
    query = (
        query.order_by(Ticket.last_activity_at.desc(), Ticket.id.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    )
    runtime = current_app.extensions["lapor"]
    with runtime.db.session() as session:
        tickets = session.scalars(query).all()
        audit_confidential_reads(session, g.api_token, tickets, "confidential (list)")
        items = [ticket_json(t, reveal=visibility.reveals_reporter(actor, t)) for t in tickets]
    return {"tickets": items, "page": page, "limit": limit}


@api_bp.get("/tickets/<tracking>")
@require_token
def get_ticket(tracking: str) -> Any:
    actor: service.Actor = g.api_actor
    runtime = current_app.extensions["lapor"]
    number = tracking.lstrip("#")
    with runtime.db.session() as session:
        ticket = service.find_ticket(session, actor, number)
        if ticket is None:
            return api_error(404, "not_found", f"no ticket #{number}")
        audit_confidential_reads(session, g.api_token, [ticket], "confidential")
        reveal = visibility.reveals_reporter(actor, ticket)
        thread = session.scalars(
            select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)
        ).all()
        body = ticket_json(ticket, reveal=reveal)
        body["history"] = [event_json(e) for e in ticket.events if not e.internal or actor.city_wide]
        body["thread"] = [message_json(m, reveal=reveal) for m in thread]
    return body
