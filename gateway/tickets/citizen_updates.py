"""Telling the citizen about their ticket: one queued message per event they should know of.

Each notification is keyed ``notify:<event id>``, so a transition retried, a job
run twice or a double click never sends the same update twice. The text comes
from config/messages/<lang>.yaml (``notify.*``) through conversations/notify.py,
fitted to the channel's length; the send job decides how to reach a WhatsApp
citizen whose 24-hour window has closed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from adapters.web import is_page_address
from conversations.notify import render_status_update
from gateway.messages.outgoing import queue_message
from gateway.store.models import Contact, Message, Ticket, TicketEvent

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

#: Longest notification when the channel's adapter is off or unknown (a 10-part SMS).
DEFAULT_MAX_LEN = 1530


def max_length(runtime: Runtime, channel: str | None) -> int:
    adapter = runtime.adapter(channel) if channel else None
    return int(getattr(adapter, "max_text_length", 0) or DEFAULT_MAX_LEN)


def notify_citizen(
    session: Session, runtime: Runtime, ticket: Ticket, event: TicketEvent, kind: str, note: str | None = None
) -> Message | None:
    """Queue the update ``kind`` (a status, or "reopened") for ``event``; None when nobody can be told.

    Tickets filed by an operator or over the API without a citizen address, and
    citizens who sent STOP, get nothing. The ticket's supporters (gateway.tickets.supporters)
    get the same update on their own channels, whatever the reporter's.
    """
    from gateway.tickets import voice

    voice.tell_supporters(session, runtime, ticket, event, kind, note)
    if not ticket.channel or not ticket.address or is_page_address(ticket.address):
        return None  # no address, or a web citizen who left no number (they follow it at /lacak)
    if ticket.contact_id is not None:
        contact = session.get(Contact, ticket.contact_id)
        if contact is not None and contact.opted_out:
            return None
    agency_name = ticket.agency.name if ticket.agency is not None else None
    text = render_status_update(
        runtime.config,
        ticket.tracking,
        kind,
        note,
        agency_name,
        ticket.language or "id",
        max_length(runtime, ticket.channel),
    )
    message = queue_message(
        session,
        channel=ticket.channel,
        address=ticket.address,
        text=text,
        contact_id=ticket.contact_id,
        dedupe_key=f"notify:{event.id}",
        ticket_id=ticket.id,
        author="system",
        purpose="notification",
        language=ticket.language,
    )
    from gateway.tickets import voice

    voice.after_update(session, runtime, ticket, kind)  # the rating question follows a resolution
    return message
