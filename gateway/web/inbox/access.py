"""The agency boundary as the inbox applies it: every read and write goes through here.

Visibility itself is gateway/tickets/visibility.py (`can_see`, `visible_tickets_query`);
this module turns the logged-in operator into the service's `Actor`, answers 404
for a ticket the operator may not see (the same answer as for a number that does
not exist, so nobody can probe for numbers) and writes the audit log.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, request
from flask_login import current_user
from sqlalchemy import Select
from sqlalchemy.orm import Session

from gateway.runtime import Runtime
from gateway.store.models import AuditEntry, Ticket
from gateway.tickets import service, visibility


def runtime() -> Runtime:
    return current_app.extensions["lapor"]


def actor() -> service.Actor:
    """The service's actor for the logged-in operator."""
    user = current_user
    label = f"{user.name} ({user.agency_code.upper()})" if user.agency_code else user.name
    return service.Actor(kind="operator", id=user.id, role=user.role, agency_id=user.agency_id, label=label)


def visible_tickets() -> Select[Ticket]:
    return visibility.visible_tickets_query(actor())


def ticket_or_404(session: Session, tracking: str) -> Ticket:
    """The ticket if this operator may see it; 404 otherwise (also for a mistyped number)."""
    ticket = service.find_ticket(session, actor(), tracking)
    if ticket is None:
        abort(404)
    return ticket


def reveals_reporter(ticket: Ticket) -> bool:
    return visibility.reveals_reporter(actor(), ticket)


def audit(session: Session, action: str, ticket: Ticket | None = None, detail: str | None = None) -> None:
    """One AuditEntry for an operator's action or view; in the caller's transaction."""
    user: Any = current_user
    session.add(
        AuditEntry(
            operator_id=user.id if user.is_authenticated else None,
            actor_label=(user.email if user.is_authenticated else request.remote_addr),
            action=action,
            ticket_id=ticket.id if ticket is not None else None,
            detail=(detail or "")[:2000] or None,
        )
    )
