"""Telling the citizen about their ticket: one queued message per event they should know of.

Each notification is keyed ``notify:<event id>``, so a transition retried, a job
run twice or a double click never sends the same update twice. The text comes
from config/messages/<lang>.yaml (``notify.*``) through conversations/notify.py,
fitted to the channel's length; the send job decides how to reach a WhatsApp
citizen whose 24-hour window has closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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


def opted_out(session: Session, contact_id: int | None) -> bool:
    """Whether the contact sent STOP: they get no updates, on any ticket, in any role."""
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    return bool(contact is not None and contact.opted_out)


@dataclass(frozen=True)
class Recipient:
    """Who hears a ticket's updates: its reporter, or one of its supporters or followers."""

    channel: str | None
    address: str | None
    contact_id: int | None
    language: str | None


def queue_status_update(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    kind: str,
    note: str | None,
    to: Recipient,
    *,
    dedupe_key: str,
) -> Message | None:
    """The one way a status update reaches one person: rendered in their language within their
    channel's length, queued once per ``dedupe_key``; None when they have no address or sent STOP."""
    if not to.channel or not to.address or opted_out(session, to.contact_id):
        return None
    agency_name = ticket.agency.name if ticket.agency is not None else None
    text = render_status_update(
        runtime.config,
        ticket.tracking,
        kind,
        note,
        agency_name,
        to.language or "id",
        max_length(runtime, to.channel),
    )
    return queue_message(
        session,
        channel=to.channel,
        address=to.address,
        text=text,
        contact_id=to.contact_id,
        dedupe_key=dedupe_key,
        ticket_id=ticket.id,
        author="system",
        purpose="notification",
        language=to.language,
    )


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
    if not ticket.channel or is_page_address(ticket.address or ""):
        return None  # no address, or a web citizen who left no number (they follow it at /lacak)
    message = queue_status_update(
        session,
        runtime,
        ticket,
        kind,
        note,
        Recipient(ticket.channel, ticket.address, ticket.contact_id, ticket.language),
        dedupe_key=f"notify:{event.id}",
    )
    if message is None:
        return None
    voice.after_update(session, runtime, ticket, kind)  # the rating question follows a resolution
    return message
