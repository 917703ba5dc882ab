"""A view of the citizen behind a ticket: their other tickets, their messages on every channel,
their language and whether they sent STOP.

Who may see it is the ticket service's rule, applied twice: the page opens only
where `visibility.reveals_reporter` lets the operator see this ticket's reporter,
and within it each other ticket (and each message, through its ticket) appears
only if it too reveals its reporter to the operator. An agency operator who may
see the name on a public ticket must not learn that the same person also filed
an anonymous one: the anonymous ticket would then be anonymous in name only.
Messages linked to no ticket show to city-wide roles only (`reveals_reporter`
of no ticket).
"""

from __future__ import annotations

from typing import Any, Final

from flask import abort, render_template
from flask_login import login_required
from sqlalchemy import select

from gateway.store.models import Contact, ContactAddress, Message, Ticket
from gateway.tickets import visibility
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import actor, audit, runtime, ticket_or_404

#: Most recent messages shown (the thread of each ticket has the rest).
MESSAGE_LIMIT: Final = 100
TICKET_LIMIT: Final = 200


@inbox_bp.get("/t/<tracking>/citizen")
@login_required
def citizen(tracking: str) -> Any:
    act = actor()
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        if ticket.contact_id is None or not visibility.reveals_reporter(act, ticket):
            abort(404)  # the same answer as for a ticket not seen: nothing to probe
        contact = db.get(Contact, ticket.contact_id)
        if contact is None:
            abort(404)
        candidates = db.scalars(
            select(Ticket)
            .where(Ticket.contact_id == contact.id, visibility.visible_clause(act))
            .order_by(Ticket.created_at.desc())
            .limit(TICKET_LIMIT)
        )
        tickets = [t for t in candidates if visibility.reveals_reporter(act, t)]
        shown_ids = {t.id for t in tickets}
        rows = db.scalars(
            select(Message)
            .where(Message.contact_id == contact.id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(MESSAGE_LIMIT * 3)
        )
        messages = [
            m
            for m in rows
            if (m.ticket_id in shown_ids) or (m.ticket_id is None and visibility.reveals_reporter(act, None))
        ][:MESSAGE_LIMIT]
        addresses = list(db.scalars(select(ContactAddress).where(ContactAddress.contact_id == contact.id)))
        if not act.city_wide:
            # An address not used by a ticket the operator may see could name another channel
            # the citizen uses anonymously; show only the ones their visible tickets reach.
            used = {t.address for t in tickets}
            addresses = [a for a in addresses if a.address in used]
        audit(db, "citizen.view", ticket)
        return render_template(
            "inbox/citizen.html",
            ticket=ticket,
            contact=contact,
            addresses=addresses,
            tickets=tickets,
            messages=messages,
        )
