"""Storing what a webhook carried: messages once per provider id, statuses, contact events.

Runs inside the webhook request, so it only writes rows: the message, its
contact, and the job that will process it, all in one transaction.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from adapters.base import DELIVERY_RANK, ContactEvent, InboundMessage, ParseResult, StatusUpdate
from adapters.common import normalize_phone
from gateway.messages.outgoing import queue_message
from gateway.messages.ratelimit import recent_inbound_count, recent_since, throttle_reply_key, throttle_text
from gateway.runtime import Runtime
from gateway.store.db import insert_ignoring
from gateway.store.fast_sql import PreparedStatements, read_rows
from gateway.store.models import Contact, ContactAddress, DeliveryReceipt, Job, Message, utcnow
from gateway.work import record_job
from gateway.work.outbox import enqueue_when_due, job_values


@dataclass
class StoreOutcome:
    new_messages: int = 0
    duplicates: int = 0
    message_ids: tuple[int, ...] = ()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Either of the two above: one scan answers "nothing to clean" for almost every string of a
# raw payload (a WhatsApp body has dozens), where two scans were needed before.
_UNCLEAN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(value: str | None) -> str | None:
    """Text safe for every database and every screen.

    NUL bytes (PostgreSQL refuses them in text, which would turn a provider's
    retry into an endless 503 loop), other C0 control characters and lone
    surrogates (invalid UTF-8 smuggled in as JSON escapes) are removed; line
    breaks and tabs stay. Markup and formulas are kept as typed: pages escape
    them when rendering, exports neutralise them (see `gateway.web.inbox.views_list.safe_cell`).
    """
    if value is None or not _UNCLEAN.search(value):
        return value
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


# Schemes whose value is a phone number: one number reached by SMS (aggregator, Twilio) and
# by WhatsApp (Cloud API, Twilio) is one citizen. Telegram ids and WhatsApp business-scoped
# ids are not phone numbers and are never linked.
PHONE_SCHEMES = ("tel", "whatsapp")


def same_phone_addresses(address: str) -> list[str]:
    """The other addresses of the phone number ``address`` names (``tel:+62…`` ↔ ``whatsapp:+62…``).

    Empty when ``address`` is not an E.164 number under a phone scheme (a Telegram chat,
    a WhatsApp business-scoped id, an SMS alphanumeric sender).
    """
    scheme, _, value = address.partition(":")
    if scheme not in PHONE_SCHEMES or not value.startswith("+") or normalize_phone(value) != value:
        return []
    return [f"{other}:{value}" for other in PHONE_SCHEMES if other != scheme]


def address_as_written(session: Session, typed: str) -> str:
    """The stored address behind what a person typed: a number as people write it
    (``0812-…``, ``+62 812 …``, ``62812…``, optionally after ``tel:`` or ``whatsapp:``) or
    an address as stored (``telegram:…``).

    A phone number is read with phonenumbers (region ID, see `normalize_phone`) and
    matched under every phone scheme, its own first: the SMS and the WhatsApp address of
    one number are one contact. Unreadable text is returned as typed (and found by nobody).
    """
    text = typed.strip()
    scheme, sep, value = text.partition(":")
    scheme = scheme.lower() if sep else ""
    if sep and scheme not in PHONE_SCHEMES:
        return text
    number = normalize_phone(value if sep else text)
    if number is None:
        return text
    schemes = [scheme] if scheme else []
    candidates = [f"{s}:{number}" for s in [*schemes, *(s for s in PHONE_SCHEMES if s != scheme)]]
    for candidate in candidates:
        if session.scalar(select(ContactAddress.id).where(ContactAddress.address == candidate)) is not None:
            return candidate
    return candidates[0]


def _new_address(
    conn: Connection,
    address: str,
    channel: str,
    name: str | None,
    language: str | None,
    last_inbound_at: datetime | None,
) -> tuple[int, str] | None:
    """Store ``address``, owned by the contact of the same phone number, or by a new contact.

    Returns the owning contact's id and language, or None when the address was stored concurrently by
    another request (the caller reads theirs). The single place where a contact is created:
    the webhook's ack path and every form that files a ticket for a phone number (walk-in
    desk, Open311) come through here, so an SMS and a WhatsApp of one number are one citizen.
    """
    owner: int | None = None
    lang = "en" if (language or "").startswith("en") else "id"
    for sibling in same_phone_addresses(address):
        found = _ACK.run(conn, "lookup", {"b_address": sibling})
        if found is not None:
            owner, lang = int(found[1]), str(found[3])
            if name and not found[2]:
                _ACK.run(conn, "name", {"b_id": owner, "b_name": name})
            break
    created = owner is None
    if owner is None:
        inserted = _ACK.run(conn, "contact", {"display_name": name, "language": lang})
        assert inserted is not None  # INSERT ... RETURNING id
        owner = int(inserted[0])
    row = _ACK.run(
        conn,
        "address",
        {"contact_id": owner, "address": address, "channel": channel, "last_inbound_at": last_inbound_at},
    )
    if row is not None:
        return owner, lang
    if created:
        _ACK.run(conn, "drop_contact", {"b_id": owner})
    return None


def find_or_create_contact(
    session: Session, address: str, channel: str, name: str | None = None, language: str | None = None
) -> tuple[Contact, ContactAddress]:
    """The contact owning ``address``, created on first contact (see `_new_address`).

    For callers outside the ack path (walk-in desk, Open311); the webhook's own path is
    `_contact_for_inbound`, which shares `_new_address`.
    """
    session.flush()
    conn = session.connection()
    if _ACK.run(conn, "lookup", {"b_address": address}) is None:
        # None back: stored concurrently by another request, whose row is read below.
        _new_address(conn, address, channel, name, language, None)
    row = session.scalars(select(ContactAddress).where(ContactAddress.address == address)).one()
    contact = session.get(Contact, row.contact_id)
    assert contact is not None
    if name and not contact.display_name:
        contact.display_name = name
    return contact, row


def message_values(msg: InboundMessage, contact_id: int) -> dict[str, Any]:
    """A normalized inbound message as the column values of its row."""
    return {
        "direction": "in",
        "channel": msg.channel,
        "provider_message_id": msg.provider_message_id,
        "contact_id": contact_id,
        "address": msg.sender,
        "peer": msg.recipient,
        "kind": msg.kind,
        "text": clean_text(msg.text) or "",
        "sender_name": clean_text(msg.sender_name),
        "attachments": [_json_safe(asdict(a)) for a in msg.attachments],
        "location": _json_safe(asdict(msg.location)) if msg.location else None,
        "language": msg.language,
        "button_payload": clean_text(msg.button_payload),
        "raw": _json_safe(
            {
                "payload": dict(msg.raw),
                "command": msg.command,
                "command_args": msg.command_args,
                "edited": msg.edited,
                "callback_id": msg.callback_id,
            }
        ),
        "author": "citizen",
        "segment_ref": msg.segment.reference if msg.segment else None,
        "segment_total": msg.segment.total if msg.segment else None,
        "segment_number": msg.segment.number if msg.segment else None,
        "provider_timestamp": msg.timestamp,
        "delivery_status": "received",
    }


def message_row(msg: InboundMessage, contact_id: int) -> Message:
    """A normalized inbound message as a database row."""
    return Message(**message_values(msg, contact_id))


def _build_statements(dialect_name: str) -> dict[str, Any]:
    """The ack path's statements, built once per dialect.

    Core statements on the tables, executed with parameters: building an ORM
    insert of thirty values per message cost more CPU than running it.
    """
    messages, addresses, contacts = Message.__table__, ContactAddress.__table__, Contact.__table__
    lookup = select(
        addresses.c.id, addresses.c.contact_id, contacts.c.display_name, contacts.c.language
    ).join(contacts, contacts.c.id == addresses.c.contact_id)
    return {
        # INSERT ... ON CONFLICT DO NOTHING RETURNING id: no savepoint and no flush; a
        # copy inserted concurrently (another request, another process) returns no row.
        "message": insert_ignoring(
            dialect_name, messages, "channel", "direction", "provider_message_id"
        ).returning(messages.c.id),
        "address": insert_ignoring(dialect_name, addresses, "address").returning(addresses.c.id),
        "contact": contacts.insert().returning(contacts.c.id),
        "lookup": lookup.where(addresses.c.address == bindparam("b_address")),
        # The same, plus the sender's inbound messages of the last minute (the rate limit):
        # one statement where a known sender needed two.
        "lookup_counted": lookup.add_columns(recent_inbound_count(addresses.c.contact_id)).where(
            addresses.c.address == bindparam("b_address")
        ),
        "touch": update(addresses)
        .where(addresses.c.id == bindparam("b_id"))
        .values(last_inbound_at=bindparam("b_now"), channel=bindparam("b_channel"), unreachable=False),
        "name": update(contacts)
        .where(contacts.c.id == bindparam("b_id"))
        .values(display_name=bindparam("b_name")),
        "drop_contact": delete(contacts).where(contacts.c.id == bindparam("b_id")),
        "job": Job.__table__.insert().returning(Job.__table__.c.id),
    }


# Run below SQLAlchemy's execution layer, for the reasons and measurements in `gateway.store.fast_sql`.
_ACK = PreparedStatements(_build_statements)


def _contact_for_inbound(conn: Connection, msg: InboundMessage, counted: bool) -> tuple[int, str, int]:
    """(contact id, language, inbound messages of the last minute) of the sender, created on
    first contact, marked reachable.

    One SELECT and one UPDATE for a known sender, on the session's connection (see
    `gateway.store.fast_sql`): the ack path runs this once per message while holding the write lock.
    The count is read only when ``counted`` (a rate limit is set), in the same SELECT; an
    address stored here counts from zero (a new contact has no messages yet; a deleted
    contact's messages lose their contact id).
    """
    now = utcnow()
    lookup = "lookup_counted" if counted else "lookup"
    params = {"b_address": msg.sender, "b_since": recent_since()} if counted else {"b_address": msg.sender}
    found = _ACK.run(conn, lookup, params)
    if found is None:
        stored = _new_address(conn, msg.sender, msg.channel, msg.sender_name, msg.language, now)
        if stored is not None:
            return stored[0], stored[1], 0
        # Created concurrently by another request: use theirs.
        found = _ACK.run(conn, lookup, params)
        if found is None:  # pragma: no cover - the conflicting row cannot vanish inside our transaction
            raise RuntimeError(f"address {msg.sender!r} conflicted but cannot be read")
    address_id, contact_id, display_name, language = found[:4]
    recent = int(found[4] or 0) if counted else 0
    _ACK.run(conn, "touch", {"b_id": address_id, "b_now": now, "b_channel": msg.channel})
    if msg.sender_name and not display_name:
        _ACK.run(conn, "name", {"b_id": contact_id, "b_name": msg.sender_name})
    return int(contact_id), str(language), recent


def store_message(session: Session, msg: InboundMessage, rate_per_minute: int = 0) -> int | None:
    """Store one inbound message and record its processing job; its id, or None if already stored.

    A sender over ``rate_per_minute`` has the message stored (marked ``throttled``
    and processed, so the bot does not answer it) and gets one polite reply.
    The message is inserted with ``ON CONFLICT DO NOTHING`` on (channel, provider
    id), so a copy stored by a concurrent request makes this one a duplicate.
    """
    # The Core statements below go to the connection directly, past the session's
    # autoflush: whatever the ORM holds (an earlier message's throttle reply) goes first.
    session.flush()
    conn = session.connection()
    contact_id, language, recent = _contact_for_inbound(conn, msg, counted=rate_per_minute > 0)
    throttled = rate_per_minute > 0 and recent >= rate_per_minute
    values = message_values(msg, contact_id)
    if throttled:
        values["raw"] = dict(values["raw"]) | {"throttled": True}
        values["processed_at"] = utcnow()
    inserted = _ACK.run(conn, "message", values)
    if inserted is None:
        return None  # the same provider message stored concurrently by another request
    message_id = inserted[0]
    if throttled:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        queue_message(
            session,
            channel=msg.channel,
            address=msg.sender,
            text=throttle_text(language),
            contact_id=contact_id,
            dedupe_key=throttle_reply_key(contact),
            author="system",
            language=language,
        )
        return int(message_id)
    # `record_job`'s row, inserted like the statements above (see `gateway.store.fast_sql`).
    job = job_values("process_inbound", {"contact_id": contact_id, "message_id": message_id})
    created = _ACK.run(conn, "job", job)
    assert created is not None  # INSERT ... RETURNING id
    enqueue_when_due(session, "process_inbound", job, [int(created[0])])
    if msg.attachments:
        record_job(session, "fetch_media", {"message_id": message_id}, dedupe_key=f"media:{message_id}")
    return int(message_id)


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
    """Move ``message`` to the provider's ``status`` if it is news (see `DELIVERY_RANK`)."""
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
        else:
            # It went through (after a retry, a fallback to SMS): an earlier attempt's
            # failure no longer describes it, and the inbox must not show one.
            message.error_code = None
            message.failure_reason = None


def apply_contact_event(session: Session, event: ContactEvent) -> None:
    row = session.scalar(select(ContactAddress).where(ContactAddress.address == event.address))
    if row is not None:
        row.unreachable = event.event == "blocked"


@functools.lru_cache(maxsize=64)
def _stored_sql(paramstyle: str, ids: int, channels: int) -> str:
    """``SELECT channel, provider_message_id ... IN (...)`` of inbound messages (an id of one of
    our sent messages is another message), in the driver's own placeholders."""
    mark = "?" if paramstyle == "qmark" else "%s"
    table, c = Message.__table__, Message.__table__.c
    return (
        f"SELECT {c.channel.name}, {c.provider_message_id.name} FROM {table.name} "  # noqa: S608 - our names
        f"WHERE {c.provider_message_id.name} IN ({', '.join([mark] * ids)}) "
        f"AND {c.channel.name} IN ({', '.join([mark] * channels)}) "
        f"AND {c.direction.name} = 'in'"
    )


def _already_stored(runtime: Runtime, messages: list[InboundMessage]) -> set[tuple[str, str]]:
    """(channel, provider id) of ``messages`` already in the database, read without the write lock.

    Providers retry often (a slow ack, a redelivery days later); answering those
    from a read-only connection keeps them off SQLite's single writer. A copy stored
    between this read and the write is still caught by the unique constraint.
    """
    keys = {(m.channel, m.provider_message_id) for m in messages}
    ids = sorted({k[1] for k in keys})
    channels = sorted({k[0] for k in keys})
    engine = runtime.db.engine
    rows = read_rows(
        engine, _stored_sql(engine.dialect.paramstyle, len(ids), len(channels)), (*ids, *channels)
    )
    return {(channel, provider_id) for channel, provider_id in rows} & keys


def store_parse_result(runtime: Runtime, channel: str, parsed: ParseResult) -> StoreOutcome:
    """Store a whole webhook body in one transaction (none at all for a body of duplicates)."""
    outcome = StoreOutcome()
    ids: list[int] = []
    messages = list(parsed.messages)
    stored = _already_stored(runtime, messages) if messages else set()
    fresh = [m for m in messages if (m.channel, m.provider_message_id) not in stored]
    outcome.duplicates = len(messages) - len(fresh)
    if not fresh and not parsed.statuses and not parsed.events:
        return outcome
    with runtime.db.session() as session:
        for msg in fresh:
            message_id = store_message(session, msg, runtime.settings.sender_rate_per_minute)
            if message_id is None:
                outcome.duplicates += 1
            else:
                outcome.new_messages += 1
                ids.append(message_id)
        for update_ in parsed.statuses:
            apply_status(session, update_)
        for event in parsed.events:
            apply_contact_event(session, event)
    outcome.message_ids = tuple(ids)
    return outcome
