"""A citizen's requests under UU 27/2022 (Pelindungan Data Pribadi): export and erase.

``lapor-gateway contact export ADDRESS`` prints everything stored about the
contact owning ADDRESS as JSON; ``lapor-gateway contact erase ADDRESS`` removes
their personal data. Both write an AuditEntry (without the address itself).

Erasing keeps the complaint as a public-service record (its tracking number,
status history and description, which agencies must account for) but cuts
every link to the person: addresses, name, the texts and raw payloads of their
messages, attachments and the ticket's reply address. The same anonymization
serves the retention rule (`gateway.privacy.retention`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gateway.store.db import rowcount
from gateway.store.models import (
    AuditEntry,
    Contact,
    ContactAddress,
    Conversation,
    IncompleteDraft,
    Message,
    Ticket,
    utcnow,
)

ERASED_TEXT = "[dihapus]"


def find_contact(session: Session, address: str) -> Contact | None:
    """The contact owning ``address`` (``tel:+62...``, ``whatsapp:+62...``, ``telegram:...``)."""
    row = session.scalar(select(ContactAddress).where(ContactAddress.address == address.strip()))
    return session.get(Contact, row.contact_id) if row is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_contact(session: Session, address: str, actor: str = "cli") -> dict[str, Any] | None:
    """Everything stored about the person behind ``address``; None when unknown. Audited."""
    contact = find_contact(session, address)
    if contact is None:
        return None
    messages = session.scalars(
        select(Message).where(Message.contact_id == contact.id).order_by(Message.id)
    ).all()
    tickets = session.scalars(select(Ticket).where(Ticket.contact_id == contact.id).order_by(Ticket.id)).all()
    data = {
        "contact": {
            "id": contact.id,
            "name": contact.display_name,
            "language": contact.language,
            "opted_out": contact.opted_out,
            "created_at": _iso(contact.created_at),
            "addresses": [{"address": a.address, "channel": a.channel} for a in contact.addresses],
        },
        "messages": [
            {
                "direction": m.direction,
                "channel": m.channel,
                "address": m.address,
                "text": m.text,
                "attachments": m.attachments,
                "location": m.location,
                "created_at": _iso(m.created_at),
                "delivery_status": m.delivery_status,
            }
            for m in messages
        ],
        "tickets": [
            {
                "tracking": t.tracking,
                "status": t.status,
                "description": t.description,
                "location": t.location_text,
                "privacy": t.privacy,
                "created_at": _iso(t.created_at),
                "history": [
                    {"status": e.to_status, "note": e.note, "at": _iso(e.created_at)}
                    for e in t.events
                    if not e.internal
                ],
            }
            for t in tickets
        ],
    }
    session.add(AuditEntry(actor_label=actor, action="privacy_export", detail=f"contact {contact.id}"))
    return data


def anonymize_contact(session: Session, contact: Contact) -> int:
    """Remove the personal data of ``contact``; returns how many messages were cleared."""
    anon = f"anon:{contact.id}"
    cleared = rowcount(
        session,
        update(Message)
        .where(Message.contact_id == contact.id)
        .values(address=anon, sender_name=None, raw={}, attachments=[], location=None),
    )
    session.execute(
        update(Message)
        .where(Message.contact_id == contact.id, Message.direction == "in")
        .values(text=ERASED_TEXT, button_payload=None)
    )
    session.execute(
        update(Ticket)
        .where(Ticket.contact_id == contact.id)
        .values(address=None, latitude=None, longitude=None)
    )
    session.execute(delete(ContactAddress).where(ContactAddress.contact_id == contact.id))
    session.execute(delete(IncompleteDraft).where(IncompleteDraft.contact_id == contact.id))
    session.execute(
        update(Conversation)
        .where(Conversation.contact_id == contact.id)
        .values(state={}, intake_state="idle", address=None)
    )
    contact.display_name = None
    contact.anonymized_at = utcnow()
    return cleared


def erase_contact(session: Session, address: str, actor: str = "cli") -> int | None:
    """Erase the person behind ``address``; None when unknown, else messages cleared. Audited."""
    contact = find_contact(session, address)
    if contact is None:
        return None
    cleared = anonymize_contact(session, contact)
    session.add(
        AuditEntry(
            actor_label=actor, action="privacy_erase", detail=f"contact {contact.id}, {cleared} messages"
        )
    )
    return cleared
