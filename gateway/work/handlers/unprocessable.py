"""A citizen's message the dialogue cannot process goes to a person instead of blocking.

A turn that raises (an engine bug, a conversation state it cannot read, a payload an adapter
did not foresee) is retried a few times, because some faults pass. The citizen's later
messages wait meanwhile, so their order holds. After `TURN_ATTEMPTS` the message leaves the
dialogue: it becomes an unverified ticket of category ``lainnya`` for the coordinator, marked
``data["needs_person"]`` with the error (shown in the inbox), the citizen gets one holding
reply (the same words on every channel, ``needs_person.holding`` in config/messages), and the
conversation starts afresh, so the next message is handled as usual.

The count lives on the message row (``attempts`` and ``failure_reason``, which an inbound
message does not otherwise use), not on a job: any job of the contact may be the one that
meets the message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from conversations import texts
from conversations.state import ConversationState
from gateway.messages.outgoing import OutboundRow, queue_message_ids
from gateway.runtime import Runtime
from gateway.store.models import Contact, Conversation, IncompleteDraft, Message, utcnow

log = logging.getLogger(__name__)

# Turns tried before the message goes to a person (with the runner's backoff between them:
# about half a minute in all).
TURN_ATTEMPTS = 4
CATEGORY = "lainnya"
# The error as operators see it: the exception's type and message, cut to this length.
ERROR_LENGTH = 500


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]


def note_failure(group: Sequence[Message], exc: BaseException) -> int:
    """Count a failed turn on the message's rows (every part of a long SMS); the count."""
    for row in group:
        row.attempts = (row.attempts or 0) + 1
        row.failure_reason = describe(exc)
    return max(row.attempts for row in group)


def hand_to_person(
    runtime: Runtime,
    session: Session,
    conv: Conversation,
    contact: Contact,
    group: Sequence[Message],
    error: str,
) -> None:
    """The message out of the dialogue: a flagged ticket, a holding reply, a fresh conversation."""
    from gateway.tickets import service as tickets

    lead = group[0]
    language = "en" if (contact.language or "").startswith("en") else "id"
    ordered = sorted(group, key=lambda r: (r.segment_number or 0, r.id))
    description = "".join(r.text or "" for r in ordered).strip() or f"[{lead.kind}]"
    ticket = tickets.create_ticket(
        session,
        runtime,
        contact=contact,
        description=description,
        category=CATEGORY,
        channel=lead.channel,
        address=lead.address,
        language=language,
        source="message",
        attachments=[a for r in ordered for a in (r.attachments or [])],
        message_ids=[r.id for r in ordered],
        notify_received=False,
    )
    ticket.data = {**(ticket.data or {}), "needs_person": {"error": error}}
    now = utcnow()
    for row in group:
        row.ticket_id = ticket.id
        row.processed_at = now
    if not contact.opted_out:
        queue_message_ids(
            session,
            [
                OutboundRow(
                    channel=lead.channel,
                    address=lead.address,
                    text=texts.text(
                        runtime.config, "needs_person.holding", language, tracking=ticket.tracking
                    ),
                    contact_id=contact.id,
                    dedupe_key=f"reply:m{lead.id}:needs_person",
                    ticket_id=ticket.id,
                    language=language,
                )
            ],
        )
    _start_afresh(session, conv, contact, language)
    log.warning(
        "message handed to a person after failed turns",
        extra={"message_id": lead.id, "ticket_id": ticket.id, "error": error},
    )


def _start_afresh(session: Session, conv: Conversation, contact: Contact, language: str) -> None:
    """A new conversation (the old state may be what failed); a draft in progress is kept for
    operators as an incomplete draft, as an expired one would be."""
    fresh = ConversationState.new(language)
    try:
        old = ConversationState.from_dict(conv.state) if conv.state else None
    except Exception:  # the state itself may be what the engine could not read
        old = None
    if old is not None:
        fresh.language = old.language
        fresh.language_explicit = old.language_explicit
        fresh.opted_out = old.opted_out
        fresh.privacy_noticed = list(old.privacy_noticed)
        fresh.emergency_replies = dict(old.emergency_replies)
        if old.draft is not None and not old.draft.is_empty():
            session.add(
                IncompleteDraft(contact_id=contact.id, channel=conv.channel, data=old.draft.to_dict())
            )
    # Timeouts scheduled by the old state carry its version: a higher one makes them stale.
    fresh.version = (conv.version or 0) + 1
    conv.state = fresh.to_dict()
    conv.intake_state = fresh.stage
    conv.version = fresh.version
    conv.last_activity_at = utcnow()
