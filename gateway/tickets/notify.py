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

from gateway.models import Contact, Message, Ticket, TicketEvent
from gateway.outbound import queue_message

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

#: Longest notification when the channel's adapter is off or unknown (a 10-part SMS).
DEFAULT_MAX_LEN = 1530


def max_length(runtime: Runtime, channel: str | None) -> int:
    adapter = runtime.adapter(channel) if channel else None
    return int(getattr(adapter, "max_text_length", 0) or DEFAULT_MAX_LEN)


def render_status(
    tracking: str, kind: str, note: str | None, agency_name: str | None, language: str, max_len: int
) -> str:
    """The update text; conversations/notify.py owns the wording."""
    try:
        from conversations.notify import render_status_update
    except ImportError:  # pragma: no cover - only until conversations/notify.py lands
        return _fallback_status(tracking, kind, note, agency_name, language, max_len)
    return render_status_update(tracking, kind, note, agency_name, language, max_len)


def render_reply(tracking: str, text: str, language: str, max_len: int) -> str:
    try:
        from conversations.notify import render_operator_reply
    except ImportError:  # pragma: no cover - only until conversations/notify.py lands
        from conversations import texts

        return texts.fit(
            "notify.operator_reply", language, max_len, shrink=("text",), tracking=tracking, text=text
        )
    return render_operator_reply(tracking, text, language, max_len)


def _fallback_status(
    tracking: str, kind: str, note: str | None, agency_name: str | None, language: str, max_len: int
) -> str:
    from conversations import texts
    from conversations.lifecycle import label_key
    from conversations.settings import deadlines

    base = kind if texts.has(f"notify.{kind}.text", language) else "other"
    key = f"notify.{base}.with_note" if note else f"notify.{base}.text"
    windows = deadlines()
    return texts.fit(
        key,
        language,
        max_len,
        shrink=("note",),
        tracking=tracking,
        note=note or "",
        agency=agency_name or texts.text("notify.agency_unknown", language),
        label=texts.text(label_key(kind), language),
        follow_up=windows.get("follow_up", 5),
        reopen_window=windows.get("reopen_window", 10),
    )


def notify_citizen(
    session: Session, runtime: Runtime, ticket: Ticket, event: TicketEvent, kind: str, note: str | None = None
) -> Message | None:
    """Queue the update ``kind`` (a status, or "reopened") for ``event``; None when nobody can be told.

    Tickets filed by an operator or over the API without a citizen address, and
    citizens who sent STOP, get nothing.
    """
    if not ticket.channel or not ticket.address:
        return None
    if ticket.contact_id is not None:
        contact = session.get(Contact, ticket.contact_id)
        if contact is not None and contact.opted_out:
            return None
    agency_name = ticket.agency.name if ticket.agency is not None else None
    text = render_status(
        ticket.tracking, kind, note, agency_name, ticket.language or "id", max_length(runtime, ticket.channel)
    )
    return queue_message(
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
