"""Which tickets the public may see, and in what form; shared by the public page and Open311.

Only tickets `visibility.is_public` allows are listed: verified (a person disposed
them, or the agency acted on an automatic disposition) and not confidential. An
anonymous one is listed without its reporter. Every text is passed through
`gateway.privacy.redact` first, with the contact's display name as a known name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session, selectinload

from conversations.tracking import parse_tracking
from gateway.privacy.redact import initials, redact
from gateway.store.models import Agency, Ticket
from gateway.tickets import supporters, visibility

#: At most this many SQL matches are redacted and re-checked for one search (a city's recent tickets).
SEARCH_SCAN_LIMIT = 2000


def known_names(ticket: Ticket) -> list[str]:
    """Names known to be the reporter's: the contact's display name and any given through Open311."""
    names: list[str] = []
    if ticket.contact is not None and ticket.contact.display_name:
        names.append(ticket.contact.display_name)
    data = ticket.data or {}
    for key in ("reporter_name", "first_name", "last_name"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            names.append(value)
    return names


#: Where a coordinator's public summary of a ticket is kept (`gateway.web.inbox.moderation`).
PUBLIC_SUMMARY_KEY = "public_summary"


def public_summary(ticket: Ticket) -> str | None:
    """The coordinator's public summary of the complaint, when one was written (not yet redacted)."""
    entry = (ticket.data or {}).get(PUBLIC_SUMMARY_KEY)
    text = entry.get("text") if isinstance(entry, dict) else None
    return text if isinstance(text, str) and text.strip() else None


def public_description(ticket: Ticket) -> str:
    """The complaint as the public reads it: the coordinator's summary if any, else the citizen's
    text; redacted either way (a moderator can miss a number too). Callers show it only for a
    ticket `visibility.is_public` allows."""
    return redact(public_summary(ticket) or ticket.description, known_names(ticket))


def public_reporter(ticket: Ticket) -> str | None:
    """Initials of the reporter of a public ticket; None for anonymous and confidential ones."""
    if not visibility.names_reporter_publicly(ticket) or ticket.contact is None:
        return None
    return initials(ticket.contact.display_name)


@dataclass(frozen=True)
class PublicQuery:
    q: str | None = None
    status: str | None = None
    agency: str | None = None
    category: str | None = None
    page: int = 1
    per_page: int = 20


def public_tickets(session: Session, query: PublicQuery) -> tuple[list[Ticket], bool]:
    """One page of listable tickets, newest first, and whether another page follows.

    A search matches the tracking number or the *redacted* text: searching for a
    phone number or a name must not reveal which ticket mentions it.
    """
    stmt = (
        select(Ticket)
        .outerjoin(Agency, Ticket.agency_id == Agency.id)
        .where(visibility.public_tickets_clause())
        .options(selectinload(Ticket.contact), selectinload(Ticket.agency))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    if query.status:
        stmt = stmt.where(Ticket.status == query.status)
    if query.agency:
        stmt = stmt.where(Agency.code == query.agency)
    if query.category:
        stmt = stmt.where(Ticket.category == query.category)
    start = (query.page - 1) * query.per_page
    needle = (query.q or "").strip()
    if not needle:
        rows = list(session.scalars(stmt.offset(start).limit(query.per_page + 1)))
        return rows[: query.per_page], len(rows) > query.per_page
    number = parse_tracking(needle)
    if number is not None:
        stmt = stmt.where(Ticket.tracking == number)
        rows = list(session.scalars(stmt.limit(1)))
        return (rows if query.page == 1 else []), False
    words = needle.lower().split()
    # A prefilter only (the summary is inside the JSON data); the redacted text decides below.
    searched = (Ticket.description, cast(Ticket.data, String))
    stmt = stmt.where(*(or_(*(c.ilike(f"%{w}%") for c in searched), Ticket.category == w) for w in words))
    matches = [
        t
        for t in session.scalars(stmt.limit(SEARCH_SCAN_LIMIT))
        if all(w in public_description(t).lower() or w == t.category for w in words)
    ]
    return matches[start : start + query.per_page], len(matches) > start + query.per_page


def ticket_card(ticket: Ticket) -> dict[str, Any]:
    """What the public list shows of one ticket."""
    return {
        "tracking": ticket.tracking,
        "status": ticket.status,
        "category": ticket.category,
        "agency": ticket.agency.name if ticket.agency else None,
        "channel": ticket.channel,
        "description": public_description(ticket),
        "reporter": public_reporter(ticket),
        "location": redact(ticket.location_text, known_names(ticket)) if ticket.location_text else None,
        "created_at": ticket.created_at,
        # How many citizens reported it (the reporter and the supporters), for verified tickets only.
        "reporters": supporters.reporters(ticket) if visibility.is_verified(ticket) else None,
    }
