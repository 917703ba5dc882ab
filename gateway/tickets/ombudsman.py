"""The right to escalate: telling a citizen they may take their complaint to the Ombudsman RI.

Two things earn the notice (issue 20, part 2b): the ticket passed its follow-up deadline
twice (`conversations.satisfaction.follow_up_passes`, checked by the deadline sweep), or
the citizen rated the handling 1 or 2 (`gateway.tickets.satisfaction`). It goes once per
ticket whatever the reason, to the reporter on their channel and in their language; the
text, with the Ombudsman's contact and any regional office, is config/messages
``ombudsman.*``. The ticket remembers it under ``data["ombudsman"]`` (the reason), so the
sweep does not look at it again.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from conversations.satisfaction import follow_up_passes, ombudsman_notice
from gateway.messages.outgoing import queue_message
from gateway.store.models import Contact, Message, Ticket, TicketEvent, utcnow
from gateway.tickets import policy
from gateway.tickets.citizen_updates import max_length

#: Where a ticket is the agency's to follow up: the deadline that can be passed twice.
AGENCY_STATUSES = frozenset({lc.DISPATCHED, lc.IN_PROGRESS})

if TYPE_CHECKING:
    from gateway.runtime import Runtime

KEY = "ombudsman"
#: Follow-up deadlines passed before the citizen is told of the Ombudsman.
PASSES = 2


def told(ticket: Ticket) -> bool:
    return bool((ticket.data or {}).get(KEY))


def tell(session: Session, runtime: Runtime, ticket: Ticket, reason: str) -> Message | None:
    """Queue the notice for ``ticket``'s reporter once; None when already told or nobody can be.

    ``reason``: "deadline" or "rating". Recorded as an internal event, so operators see
    that the citizen was told and why.
    """
    if told(ticket) or not ticket.channel or not ticket.address:
        return None
    if ticket.contact_id is not None:
        contact = session.get(Contact, ticket.contact_id)
        if contact is not None and contact.opted_out:
            return None
    ticket.data = {**(ticket.data or {}), KEY: reason}
    text = ombudsman_notice(
        runtime.config, ticket.tracking, ticket.language, max_length(runtime, ticket.channel)
    )
    session.add(
        TicketEvent(
            ticket=ticket,
            action="ombudsman",
            from_status=ticket.status,
            to_status=ticket.status,
            actor_type="system",
            actor_label="Sistem",
            internal=True,
            data={"reason": reason},
            created_at=utcnow(),
        )
    )
    return queue_message(
        session,
        channel=ticket.channel,
        address=ticket.address,
        text=text,
        contact_id=ticket.contact_id,
        dedupe_key=f"ombudsman:{ticket.id}",
        ticket_id=ticket.id,
        author="system",
        purpose="notification",
        language=ticket.language,
    )


def passes(runtime: Runtime, session: Session, ticket: Ticket, today: date) -> int:
    """How many times ``ticket`` has passed a follow-up deadline, as of ``today``."""
    return _passes(
        runtime,
        ticket.deadline,
        ticket.category,
        ticket.overdue,
        _reminders(session, [ticket.id]).get(ticket.id, 0),
        today,
    )


def _reminders(session: Session, ticket_ids: list[int]) -> dict[int, int]:
    """The sweep's "reminder" events of these tickets while an agency had them, per ticket."""
    if not ticket_ids:
        return {}
    rows = session.execute(
        select(TicketEvent.ticket_id, func.count(TicketEvent.id))
        .where(
            TicketEvent.ticket_id.in_(ticket_ids),
            TicketEvent.action == "reminder",
            TicketEvent.from_status.in_(tuple(AGENCY_STATUSES)),
        )
        .group_by(TicketEvent.ticket_id)
    )
    return {int(ticket_id): int(count) for ticket_id, count in rows}


def _passes(
    runtime: Runtime, deadline: date | None, category: str | None, overdue: bool, reminders: int, today: date
) -> int:
    """`follow_up_passes` for one ticket: the earlier follow-up deadlines it missed are its
    reminders (one per missed deadline: each dispatch or reopen starts a new one), less the
    current deadline's own reminder when it was already sent (``overdue``)."""
    if deadline is None:
        return 0
    earlier = max(0, reminders - (1 if overdue else 0))
    late = policy.calendar(runtime).working_days_between(deadline, today) if deadline < today else 0
    follow_up = int(policy.deadlines(runtime, category).get("follow_up", 5))
    return follow_up_passes(earlier, late, follow_up)


def due(runtime: Runtime, session: Session, today: date, limit: int) -> list[int]:
    """Ids of the tickets the agency still owes whose follow-up deadline is passed twice and whose
    citizen was not told yet: worked out in one read (two queries), so the sweep opens a
    transaction only for the few that are due, not for every overdue ticket every five minutes."""
    rows = session.execute(
        select(Ticket.id, Ticket.deadline, Ticket.category, Ticket.overdue)
        .where(
            Ticket.status.in_(tuple(AGENCY_STATUSES)),
            Ticket.deadline < today,
            func.coalesce(Ticket.data[KEY].as_string(), "") == "",
        )
        .order_by(Ticket.deadline)
        .limit(limit)
    ).all()
    counts = _reminders(session, [row.id for row in rows])
    return [
        row.id
        for row in rows
        if _passes(runtime, row.deadline, row.category, bool(row.overdue), counts.get(row.id, 0), today)
        >= PASSES
    ]


def check_deadline(runtime: Runtime, session: Session, ticket: Ticket, today: date) -> bool:
    """The sweep's step: tell the citizen once the follow-up deadline has been passed twice."""
    if ticket.status not in AGENCY_STATUSES or told(ticket):
        return False
    if passes(runtime, session, ticket, today) < PASSES:
        return False
    return tell(session, runtime, ticket, "deadline") is not None
