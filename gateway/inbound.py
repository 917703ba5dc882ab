"""Storing what a webhook carried: messages once per provider id, statuses, contact events.

Runs inside the webhook request, so it only writes rows: the message, its
contact, and the job that will process it, all in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.base import DELIVERY_RANK, ContactEvent, InboundMessage, ParseResult, StatusUpdate
from gateway.jobs import record_job
from gateway.models import Contact, ContactAddress, DeliveryReceipt, Message, utcnow
from gateway.outbound import queue_message
from gateway.ratelimit import over_limit, throttle_reply_key, throttle_text
from gateway.runtime import Runtime


@dataclass
class StoreOutcome:
    new_messages: int = 0
    duplicates: int = 0
    message_ids: tuple[int, ...] = ()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(value: str | None) -> str | None:
    """Text safe for every database and every screen.

    NUL bytes (PostgreSQL refuses them in text, which would turn a provider's
    retry into an endless 503 loop), other C0 control characters and lone
    surrogates (invalid UTF-8 smuggled in as JSON escapes) are removed; line
    breaks and tabs stay. Markup and formulas are kept as typed: pages escape
    them when rendering, exports neutralise them (see `gateway.privacy_requests`).
    """
    if value is None:
        return None
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return value


def _json_safe(value: Any) -> Any:
    """Raw payloads as JSON: datetimes to ISO text, tuples to lists, bytes decoded, text cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return clean_text(value.decode("utf-8", errors="replace"))
    return value


def find_or_create_contact(
    session: Session, address: str, channel: str, name: str | None = None, language: str | None = None
) -> tuple[Contact, ContactAddress]:
    """The contact owning ``address``, created on first contact."""
    row = session.scalar(select(ContactAddress).where(ContactAddress.address == address))
    if row is not None:
        contact = session.get(Contact, row.contact_id)
        assert contact is not None
        if name and not contact.display_name:
            contact.display_name = name
        return contact, row
    contact = Contact(display_name=name, language="en" if (language or "").startswith("en") else "id")
    session.add(contact)
    session.flush()
    row = ContactAddress(contact_id=contact.id, address=address, channel=channel)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # Created concurrently by another request: use theirs.
        session.expunge(contact)
        row = session.scalars(select(ContactAddress).where(ContactAddress.address == address)).one()
        found = session.get(Contact, row.contact_id)
        assert found is not None
        return found, row
    return contact, row


def message_row(msg: InboundMessage, contact_id: int) -> Message:
    """A normalized inbound message as a database row."""
    return Message(
        direction="in",
        channel=msg.channel,
        provider_message_id=msg.provider_message_id,
        contact_id=contact_id,
        address=msg.sender,
        peer=msg.recipient,
        kind=msg.kind,
        text=clean_text(msg.text) or "",
        sender_name=clean_text(msg.sender_name),
        attachments=[_json_safe(asdict(a)) for a in msg.attachments],
        location=_json_safe(asdict(msg.location)) if msg.location else None,
        language=msg.language,
        button_payload=clean_text(msg.button_payload),
        raw=_json_safe(
            {
                "payload": dict(msg.raw),
                "command": msg.command,
                "command_args": msg.command_args,
                "edited": msg.edited,
                "callback_id": msg.callback_id,
            }
        ),
        author="citizen",
        segment_ref=msg.segment.reference if msg.segment else None,
        segment_total=msg.segment.total if msg.segment else None,
        segment_number=msg.segment.number if msg.segment else None,
        provider_timestamp=msg.timestamp,
        delivery_status="received",
    )


def store_message(session: Session, msg: InboundMessage, rate_per_minute: int = 0) -> Message | None:
    """Store one inbound message and record its processing job; None if already stored.

    A sender over ``rate_per_minute`` has the message stored (marked ``throttled``
    and processed, so the bot does not answer it) and gets one polite reply.
    """
    exists = session.scalar(
        select(Message.id).where(
            Message.channel == msg.channel, Message.provider_message_id == msg.provider_message_id
        )
    )
    if exists is not None:
        return None
    contact, address = find_or_create_contact(session, msg.sender, msg.channel, msg.sender_name, msg.language)
    address.last_inbound_at = utcnow()
    address.channel = msg.channel
    if address.unreachable:
        address.unreachable = False  # they wrote to us, so they can be reached again
    throttled = over_limit(session, contact.id, rate_per_minute)
    row = message_row(msg, contact.id)
    if throttled:
        row.raw = dict(row.raw) | {"throttled": True}
        row.processed_at = utcnow()
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None  # the same provider message stored concurrently by another request
    if throttled:
        queue_message(
            session,
            channel=msg.channel,
            address=msg.sender,
            text=throttle_text(contact.language),
            contact_id=contact.id,
            dedupe_key=throttle_reply_key(contact),
            author="system",
            language=contact.language,
        )
        return row
    record_job(session, "process_inbound", {"contact_id": contact.id, "message_id": row.id})
    if msg.attachments:
        record_job(session, "fetch_media", {"message_id": row.id}, dedupe_key=f"media:{row.id}")
    return row


def apply_status(session: Session, update: StatusUpdate) -> bool:
    """Apply a delivery receipt; statuses never move a message backwards (except to failed).

    A receipt for a message we do not know yet (it can beat our own commit) is
    kept and applied when the send job records the provider id.
    """
    message = session.scalar(
        select(Message).where(
            Message.channel == update.channel,
            Message.provider_message_id == update.provider_message_id,
            Message.direction == "out",
        )
    )
    if message is None:
        session.add(
            DeliveryReceipt(
                channel=update.channel,
                provider_message_id=update.provider_message_id,
                status=update.status,
                error_code=update.error_code,
                raw=_json_safe(dict(update.raw) | {"error_message": update.error_message}),
            )
        )
        return False
    if update.status == "failed" and retry_outside_window(session, message, update.error_code):
        return True
    apply_status_to_message(session, message, update.status, update.error_code, update.error_message)
    if update.opted_out:
        addr = session.scalar(select(ContactAddress).where(ContactAddress.address == message.address))
        if addr is not None:
            addr.unreachable = True
    return True


# Provider codes meaning "outside the 24-hour customer-service window": WhatsApp
# Cloud API reports 131047 as a failed status after accepting the send; Twilio 63016.
WINDOW_CLOSED_CODES = {"131047", "63016"}


def retry_outside_window(session: Session, message: Message, error_code: str | None) -> bool:
    """Resend a message the provider refused for the closed window, as a template or fallback.

    Returns True when a resend was recorded. A message that already went out as
    a template is not retried (it would fail the same way).
    """
    if error_code not in WINDOW_CLOSED_CODES or (message.payload or {}).get("template"):
        return False
    addr = session.scalar(select(ContactAddress).where(ContactAddress.address == message.address))
    if addr is not None:
        addr.last_inbound_at = None  # the provider says the window is closed
    message.payload = dict(message.payload or {}) | {"purpose": "notification", "window_retry": True}
    message.delivery_status = "pending"
    message.failure_reason = "outside the WhatsApp 24-hour window; resending as template or by SMS"
    record_job(session, "send_message", {"message_id": message.id}, dedupe_key=f"send:{message.id}:window")
    return True


def apply_status_to_message(
    session: Session, message: Message, status: str, error_code: str | None, error_message: str | None
) -> None:
    current = DELIVERY_RANK.get(message.delivery_status or "pending", 0)
    new = DELIVERY_RANK.get(status)
    if new is None:
        return
    if status == "failed" or new > current:
        message.delivery_status = status
        message.status_at = utcnow()
        if status == "failed":
            message.error_code = error_code
            message.failure_reason = error_message or (
                f"provider error {error_code}" if error_code else "failed"
            )


def apply_contact_event(session: Session, event: ContactEvent) -> None:
    row = session.scalar(select(ContactAddress).where(ContactAddress.address == event.address))
    if row is not None:
        row.unreachable = event.event == "blocked"


def store_parse_result(runtime: Runtime, channel: str, parsed: ParseResult) -> StoreOutcome:
    """Store a whole webhook body in one transaction."""
    outcome = StoreOutcome()
    ids: list[int] = []
    with runtime.db.session() as session:
        for msg in parsed.messages:
            row = store_message(session, msg, runtime.settings.sender_rate_per_minute)
            if row is None:
                outcome.duplicates += 1
            else:
                outcome.new_messages += 1
                ids.append(row.id)
        for update in parsed.statuses:
            apply_status(session, update)
        for event in parsed.events:
            apply_contact_event(session, event)
    outcome.message_ids = tuple(ids)
    return outcome
