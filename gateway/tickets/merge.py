"""Merging two contacts that are one citizen (a number the gateway could not link by itself).

The gateway links the SMS and WhatsApp addresses of one phone number on its own (see
`gateway.messages.ingest`); a citizen who wrote from a WhatsApp business-scoped id, a Telegram
account or a second SIM is joined to their other contact by an admin or coordinator.
Everything of the merged contact moves to the kept one: addresses, tickets, messages,
unfinished drafts and, when the kept one has none in progress, the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from conversations.state import IDLE
from gateway.store.models import Contact, ContactAddress, Conversation, IncompleteDraft, Message, Ticket
from gateway.work import record_job


class MergeRefused(ValueError):
    """The two contacts cannot be merged (the same one, or one is missing)."""


@dataclass(frozen=True)
class MergeResult:
    kept: int
    merged: int
    addresses: int
    tickets: int
    messages: int


def merge_contacts(session: Session, keep_id: int, other_id: int) -> MergeResult:
    """Move everything of contact ``other_id`` to ``keep_id`` and delete ``other_id``.

    A STOP from either stays in force (the citizen said it on one of their addresses).
    Inbound messages of the merged contact still waiting to be processed get a job on
    the kept contact, so none waits for a message that may never come.
    """
    if keep_id == other_id:
        raise MergeRefused("the same contact")
    keep, other = session.get(Contact, keep_id), session.get(Contact, other_id)
    if keep is None or other is None:
        raise MergeRefused("no such contact")
    counts: dict[str, int] = {}
    for model in (ContactAddress, Ticket, Message, IncompleteDraft):
        moved = session.execute(
            update(model)
            .where(model.contact_id == other_id)  # type: ignore[attr-defined]
            .values(contact_id=keep_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        counts[model.__name__] = int(moved or 0)
    _merge_conversations(session, keep_id, other_id)
    keep.opted_out = keep.opted_out or other.opted_out
    keep.display_name = keep.display_name or other.display_name
    waiting = session.scalar(
        select(Message.id)
        .where(Message.contact_id == keep_id, Message.direction == "in", Message.processed_at.is_(None))
        .order_by(Message.id)
        .limit(1)
    )
    session.delete(other)
    if waiting is not None:
        record_job(session, "process_inbound", {"contact_id": keep_id, "message_id": waiting})
    session.flush()
    session.expire_all()  # the bulk updates above bypassed the objects already loaded
    return MergeResult(
        kept=keep_id,
        merged=other_id,
        addresses=counts["ContactAddress"],
        tickets=counts["Ticket"],
        messages=counts["Message"],
    )


def _merge_conversations(session: Session, keep_id: int, other_id: int) -> None:
    """The kept contact's conversation stays, unless it is idle and the other's is not."""
    kept = session.scalar(select(Conversation).where(Conversation.contact_id == keep_id).with_for_update())
    merged = session.scalar(select(Conversation).where(Conversation.contact_id == other_id).with_for_update())
    if merged is None:
        return
    if kept is None:
        merged.contact_id = keep_id
        return
    if kept.intake_state == IDLE and merged.intake_state != IDLE:
        version = max(kept.version, merged.version) + 1  # timeouts of either are stale now
        kept.state, kept.intake_state = {**(merged.state or {}), "version": version}, merged.intake_state
        kept.channel, kept.address, kept.version = merged.channel, merged.address, version
    session.delete(merged)
    session.flush()


def link_phone_numbers(session: Session) -> list[MergeResult]:
    """Merge the contacts that share a phone number under different schemes (``tel:`` and
    ``whatsapp:``), the oldest contact kept.

    New addresses are linked as they arrive (`gateway.messages.ingest`); this joins the contacts
    stored before that, once, for `lapor-gateway contact link-numbers`.
    """
    from gateway.messages.ingest import same_phone_addresses

    owners: dict[str, set[int]] = {}
    for address, contact_id in session.execute(select(ContactAddress.address, ContactAddress.contact_id)):
        if same_phone_addresses(address):  # a phone number under a phone scheme
            owners.setdefault(address.partition(":")[2], set()).add(int(contact_id))
    results = []
    for ids in owners.values():
        keep, *others = sorted(ids)
        for other in others:
            if session.get(Contact, other) is not None:  # not merged already under another number
                results.append(merge_contacts(session, keep, other))
    return results
