"""Queueing a message to a citizen: a row in ``messages`` plus a send job, in one transaction.

Every reply, operator answer and status update goes through `queue_message`, so
that each has a ``dedupe_key``: asking twice to send the same thing (a job run
twice, a double click) stores and sends it once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.store.db import insert_ignoring
from gateway.store.models import Message
from gateway.work.outbox import JobSpec, record_jobs


def queue_message(session: Session, **fields: Any) -> Message:
    """Store an outbound message and record its send job; idempotent on ``dedupe_key``.

    Takes the arguments of `queue_message_id` and returns the stored row. ``purpose`` is
    "reply" (an answer inside a conversation) or "notification" (a ticket update, which may
    need a WhatsApp template outside the 24-hour window).
    """
    message = session.get(Message, queue_message_id(session, **fields))
    assert message is not None
    return message


def queue_message_id(
    session: Session,
    *,
    channel: str,
    address: str,
    text: str,
    contact_id: int | None,
    dedupe_key: str,
    ticket_id: int | None = None,
    author: str = "bot",
    operator_id: int | None = None,
    buttons: list[dict[str, Any]] | None = None,
    menu_title: str | None = None,
    purpose: str = "reply",
    language: str | None = None,
) -> int:
    """`queue_message` for callers that need only the id: two Core statements, ``INSERT ... ON
    CONFLICT (dedupe_key) DO NOTHING`` for the message and its send job, and no ORM object."""
    return queue_message_ids(
        session,
        [
            OutboundRow(
                channel=channel,
                address=address,
                text=text,
                contact_id=contact_id,
                dedupe_key=dedupe_key,
                ticket_id=ticket_id,
                author=author,
                operator_id=operator_id,
                buttons=buttons,
                menu_title=menu_title,
                purpose=purpose,
                language=language,
            )
        ],
    )[0]


@dataclass(frozen=True)
class OutboundRow:
    """The arguments of `queue_message_id`, for queueing several messages at once."""

    channel: str
    address: str
    text: str
    contact_id: int | None
    dedupe_key: str
    ticket_id: int | None = None
    author: str = "bot"
    operator_id: int | None = None
    buttons: list[dict[str, Any]] | None = None
    menu_title: str | None = None
    purpose: str = "reply"
    language: str | None = None

    def values(self) -> dict[str, Any]:
        return {
            "direction": "out",
            "channel": self.channel,
            "address": self.address,
            "text": self.text,
            "contact_id": self.contact_id,
            "ticket_id": self.ticket_id,
            "author": self.author,
            "operator_id": self.operator_id,
            "dedupe_key": self.dedupe_key,
            "delivery_status": "pending",
            "language": self.language,
            "payload": {
                "buttons": self.buttons or [],
                "menu_title": self.menu_title,
                "purpose": self.purpose,
            },
        }


def queue_message_ids(session: Session, rows: list[OutboundRow]) -> list[int]:
    """`queue_message_id` for several messages: one ``INSERT ... ON CONFLICT (dedupe_key) DO
    NOTHING RETURNING`` for the messages (executemany) and one for their send jobs, whatever
    their number. A key queued before keeps its message, which gets no new send job. Returns
    the ids in the order of ``rows``."""
    if not rows:
        return []
    statements = _statements(session.get_bind().dialect.name)
    ids = {
        key: int(mid) for mid, key in session.execute(statements["insert_many"], [r.values() for r in rows])
    }
    new = [ids[r.dedupe_key] for r in rows if r.dedupe_key in ids]
    for key in {r.dedupe_key for r in rows} - set(ids):  # asked before: stored (and sent) once
        ids[key] = int(session.execute(statements["by_key"], {"key": key}).scalar_one())
    record_jobs(session, [JobSpec("send_message", {"message_id": mid}, f"send:{mid}") for mid in new])
    return [ids[r.dedupe_key] for r in rows]


@functools.cache
def _statements(dialect_name: str) -> dict[str, Any]:
    """Built once per dialect (``ON CONFLICT`` is spelled per dialect) and kept: SQLAlchemy
    memoizes a statement's cache key, which a statement built on every call computes again
    (docs/performance.md, "SQL through SQLAlchemy")."""
    messages = Message.__table__
    return {
        "insert_many": insert_ignoring(dialect_name, messages, "dedupe_key").returning(
            messages.c.id, messages.c.dedupe_key
        ),
        "by_key": select(messages.c.id).where(messages.c.dedupe_key == bindparam("key")),
    }
