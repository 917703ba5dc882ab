"""Retention (UU 27/2022): anonymize the contact data of closed tickets after N months.

``LAPOR_RETENTION_MONTHS`` (default 24, 0 = keep forever). A contact is
anonymized when every ticket of theirs is closed (``closed_at`` set, or
archived) since before the cutoff and they have not written since; an active
citizen keeps their address. Runs in the scheduler of one worker, every six
hours; each anonymization writes an AuditEntry.

Media goes too: the attachment records of the contact's messages and tickets
are dropped and their stored files deleted (`gateway.attachments.store`), once the
anonymization is committed; a file another citizen also sent stays for them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from gateway.attachments.store import detach_contact_media, media_backend, remove_unreferenced
from gateway.privacy.requests import anonymize_contact
from gateway.store.models import AuditEntry, Contact, Message, Ticket, utcnow

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

INTERVAL = 6 * 3600.0
BATCH = 200


def _closed_before(cutoff: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Ticket.closed_at.is_not(None), Ticket.closed_at < cutoff),
        and_(Ticket.status == "archived", Ticket.updated_at < cutoff),
    )


def due_contacts(session: Session, months: int) -> list[int]:
    """Contacts whose data the retention rule says must go now."""
    cutoff = utcnow() - timedelta(days=30 * months)
    still_needed = exists().where(Ticket.contact_id == Contact.id, ~_closed_before(cutoff))
    recent_message = exists().where(Message.contact_id == Contact.id, Message.created_at >= cutoff)
    has_ticket = exists().where(Ticket.contact_id == Contact.id)
    return list(
        session.scalars(
            select(Contact.id)
            .where(Contact.anonymized_at.is_(None), has_ticket, ~still_needed, ~recent_message)
            .limit(BATCH)
        )
    )


def apply_retention(runtime: Runtime) -> int:
    """Anonymize every contact due; returns how many."""
    months = runtime.settings.retention_months
    if months <= 0:
        return 0
    done = 0
    files: set[str] = set()
    with runtime.db.session() as session:
        for contact_id in due_contacts(session, months):
            contact = session.get(Contact, contact_id)
            if contact is None:
                continue
            files |= detach_contact_media(session, contact_id)
            cleared = anonymize_contact(session, contact)
            session.add(
                AuditEntry(
                    actor_label="retention",
                    action="retention_anonymize",
                    detail=f"contact {contact_id}, {cleared} messages, after {months} months",
                )
            )
            done += 1
    if files:
        with runtime.db.session() as session:
            remove_unreferenced(session, media_backend(runtime.settings), files)
    if done:
        log.info("retention anonymized contacts", extra={"contacts": done, "months": months})
    return done


def retention_task(runtime: Runtime) -> None:
    apply_retention(runtime)
