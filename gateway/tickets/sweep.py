"""The deadline sweep: overdue tickets are marked and their agency reminded, late ones escalated,
resolved ones closed for good once the citizen's reply window has passed.

Runs every five minutes in the scheduler; each ticket is handled in its own
transaction, so one bad row does not hold up the rest, and every step is guarded
by the state it leaves (``overdue``, ``escalated_at``, ``closed_at``) so running
it twice in a row changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select

from conversations import lifecycle as lc
from conversations.tracking import format_tracking
from gateway.store.models import AuditEntry, Ticket, TicketEvent, utcnow
from gateway.tickets import policy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

#: Seconds between sweeps: deadlines are whole days, so a few minutes late is on time.
SWEEP_INTERVAL = 300.0
#: Tickets handled per step and pass, so one pass stays short on a large backlog.
BATCH = 500
#: Statuses whose deadline an operator can miss (deferred waits for the citizen; resolved closes).
WATCHED = (lc.UNVERIFIED, lc.DISPATCHED, lc.IN_PROGRESS)


def deadline_sweep(runtime: Runtime) -> None:
    counts = sweep(runtime)
    if any(counts.values()):
        log.info("deadline sweep", extra=counts)


def sweep(runtime: Runtime, today: date | None = None) -> dict[str, int]:
    """One pass over the deadlines as of ``today`` (the agencies' local date). Returns counts per step."""
    today = today or policy.today(runtime)
    counts = {"overdue": 0, "escalated": 0, "closed": 0, "ombudsman": 0}
    with runtime.db.session() as session:
        overdue_ids = list(
            session.scalars(
                select(Ticket.id)
                .where(Ticket.status.in_(WATCHED), Ticket.deadline < today, Ticket.overdue.is_(False))
                .order_by(Ticket.deadline)
                .limit(BATCH)
            )
        )
        escalate_ids = list(
            session.scalars(
                select(Ticket.id)
                .where(
                    Ticket.status.in_(WATCHED),
                    Ticket.deadline < today,
                    Ticket.escalated_at.is_(None),
                )
                .order_by(Ticket.deadline)
                .limit(BATCH)
            )
        )
        close_ids = list(
            session.scalars(
                select(Ticket.id)
                .where(Ticket.status == lc.RESOLVED, Ticket.closed_at.is_(None), Ticket.deadline < today)
                .order_by(Ticket.deadline)
                .limit(BATCH)
            )
        )
    for ticket_id in overdue_ids:
        counts["overdue"] += _each(runtime, ticket_id, lambda s, t: _mark_overdue(runtime, s, t, today))
    for ticket_id in escalate_ids:
        counts["escalated"] += _each(runtime, ticket_id, lambda s, t: _escalate(runtime, s, t, today))
    for ticket_id in close_ids:
        counts["closed"] += _each(runtime, ticket_id, lambda s, t: _close(runtime, s, t, today))
    from gateway.tickets import ombudsman  # the right to escalate (issue 20): after this pass's reminders

    with runtime.db.session() as session:
        ombudsman_ids = ombudsman.due(runtime, session, today, BATCH)
    for ticket_id in ombudsman_ids:
        counts["ombudsman"] += _each(
            runtime, ticket_id, lambda s, t: ombudsman.check_deadline(runtime, s, t, today)
        )
    return counts


def _each(runtime: Runtime, ticket_id: int, step: Callable[[Session, Ticket], bool]) -> int:
    try:
        with runtime.db.session() as session:
            ticket = session.get(Ticket, ticket_id)
            return int(ticket is not None and step(session, ticket))
    except Exception:
        log.exception("deadline sweep failed for a ticket", extra={"ticket_id": ticket_id})
        return 0


def _system_event(session: Session, ticket: Ticket, action: str, data: dict[str, object]) -> None:
    session.add(
        TicketEvent(
            ticket=ticket,
            action=action,
            from_status=ticket.status,
            to_status=ticket.status,
            actor_type="system",
            actor_label="Sistem",
            internal=True,
            data=data,
            created_at=utcnow(),
        )
    )


def _responsible(runtime: Runtime, ticket: Ticket) -> str | None:
    """Who owes the next step: the coordinator before dispatch (even when routing named an agency)."""
    if ticket.status in lc.PRE_DISPATCH_STATUSES:
        return runtime.catalog.coordinator.code
    return ticket.agency.code if ticket.agency is not None else None


def _mark_overdue(runtime: Runtime, session: Session, ticket: Ticket, today: date) -> bool:
    """Mark it and remind whoever owns the next step (the agency, or the coordinator before dispatch)."""
    if ticket.overdue or ticket.status not in WATCHED or ticket.deadline is None or ticket.deadline >= today:
        return False
    ticket.overdue = True
    owner = _responsible(runtime, ticket)
    _system_event(session, ticket, "reminder", {"deadline": ticket.deadline.isoformat(), "agency": owner})
    session.add(
        AuditEntry(
            actor_label="Sistem",
            action="ticket.reminder",
            ticket_id=ticket.id,
            detail=f"{format_tracking(ticket.tracking)} overdue since {ticket.deadline:%Y-%m-%d} ({owner})",
        )
    )
    return True


def _escalate(runtime: Runtime, session: Session, ticket: Ticket, today: date) -> bool:
    """Tell the coordinator once a ticket is ``escalate_after`` working days past its deadline."""
    if ticket.escalated_at is not None or ticket.status not in WATCHED or ticket.deadline is None:
        return False
    late = policy.calendar(runtime).working_days_between(ticket.deadline, today)
    if late < policy.escalate_after(runtime):
        return False
    ticket.overdue = True
    ticket.escalated_at = utcnow()
    owner = _responsible(runtime, ticket)
    _system_event(
        session,
        ticket,
        "escalate",
        {"deadline": ticket.deadline.isoformat(), "agency": owner, "working_days_late": late},
    )
    session.add(
        AuditEntry(
            actor_label="Sistem",
            action="ticket.escalate",
            ticket_id=ticket.id,
            detail=f"{format_tracking(ticket.tracking)} {late} working days late ({owner})",
        )
    )
    return True


def _close(runtime: Runtime, session: Session, ticket: Ticket, today: date) -> bool:
    """Close a resolved ticket whose reply window passed without a reply."""
    from gateway.tickets.service import Actor, transition

    if ticket.status != lc.RESOLVED or ticket.closed_at is not None:
        return False
    if ticket.deadline is None or ticket.deadline >= today:
        return False
    transition(session, runtime, ticket, lc.CLOSE, Actor.system())
    return True
