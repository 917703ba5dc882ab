"""Per-sender rate limit on inbound messages: throttle the bot, keep every message.

A citizen (or a script using their number) who writes more than
``LAPOR_SENDER_RATE_PER_MINUTE`` messages within a minute gets ONE polite reply
per hour (config/ratelimit.yaml) and no bot answers for the rest; every message is
still stored, with its raw payload, and marked ``throttled`` so operators see it.
Nothing is dropped silently.

The count comes from the database (the messages just stored), not from the HTTP
client: providers call from shared IP ranges, so Flask-Limiter's per-request key
does not identify a sender, and a count in the same transaction holds across any
number of web processes without Redis (which may be down: see docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, bindparam, func, select
from sqlalchemy.orm import Session

from config.loader import load_yaml
from gateway.store.models import Contact, Message, utcnow

WINDOW = timedelta(minutes=1)

_DEFAULT_TEXT = {
    "id": "Pesan Anda terlalu banyak. Mohon tunggu beberapa menit.",
    "en": "Please wait a few minutes.",
}


def recent_since() -> datetime:
    """The start of the window: messages stored after it count."""
    return utcnow() - WINDOW


_RECENT = select(func.count(Message.__table__.c.id)).where(
    Message.__table__.c.contact_id == bindparam("b_contact"),
    Message.__table__.c.direction == "in",
    Message.__table__.c.created_at >= bindparam("b_since"),
)


def recent_inbound(
    session: Session, contact_id: int, window: timedelta = WINDOW, channel: str | None = None
) -> int:
    """Inbound messages of this contact stored within ``window`` (the last minute), on ``channel``
    when given (the web form's per-number limit counts its own submissions over a day)."""
    statement = _RECENT if channel is None else _RECENT.where(Message.__table__.c.channel == channel)
    return int(session.scalar(statement, {"b_contact": contact_id, "b_since": utcnow() - window}) or 0)


def recent_inbound_count(contact_id: ColumnElement[Any]) -> ScalarSelect[Any]:
    """Inbound messages of ``contact_id`` stored since ``b_since`` (bind it to `recent_since`),
    as a subquery.

    For a statement that reads the sender anyway (the webhook ack's sender lookup), so the
    count costs no statement of its own.
    """
    messages = Message.__table__.c
    return (
        select(func.count(messages.id))
        .where(
            messages.contact_id == contact_id,
            messages.direction == "in",
            messages.created_at >= bindparam("b_since"),
        )
        .scalar_subquery()
    )


def throttle_text(language: str | None) -> str:
    try:
        texts = (load_yaml("ratelimit.yaml") or {}).get("throttled") or {}
    except FileNotFoundError:
        texts = {}
    lang = "en" if (language or "").startswith("en") else "id"
    return str(texts.get(lang) or _DEFAULT_TEXT[lang])


def throttle_reply_key(contact: Contact) -> str:
    """One polite reply per contact per hour, however many messages keep coming."""
    return f"throttle:{contact.id}:{utcnow().strftime('%Y%m%d%H')}"
