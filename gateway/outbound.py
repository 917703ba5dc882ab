"""Queueing a message to a citizen: a row in ``messages`` plus a send job, in one transaction.

Every reply, operator answer and status update goes through `queue_message`, so
that each has a ``dedupe_key``: asking twice to send the same thing (a job run
twice, a double click) stores and sends it once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.db import insert_ignoring
from gateway.jobs import record_job
from gateway.models import Message


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
    """`queue_message` for callers that need only the id (the worker's replies): two Core
    statements, ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` for the message and its
    send job, and no ORM object."""
    statements = _statements(session)
    inserted = session.execute(
        statements["insert_once"],
        {
            "direction": "out",
            "channel": channel,
            "address": address,
            "text": text,
            "contact_id": contact_id,
            "ticket_id": ticket_id,
            "author": author,
            "operator_id": operator_id,
            "dedupe_key": dedupe_key,
            "delivery_status": "pending",
            "language": language,
            "payload": {"buttons": buttons or [], "menu_title": menu_title, "purpose": purpose},
        },
    ).scalar_one_or_none()
    if inserted is None:  # asked before: stored (and sent) once
        return int(session.execute(statements["by_key"], {"key": dedupe_key}).scalar_one())
    message_id = int(inserted)
    record_job(session, "send_message", {"message_id": message_id}, dedupe_key=f"send:{message_id}")
    return message_id


_STATEMENTS: dict[str, dict[str, Any]] = {}


def _statements(session: Session) -> dict[str, Any]:
    name = session.get_bind().dialect.name
    found = _STATEMENTS.get(name)
    if found is None:
        messages = Message.__table__
        found = _STATEMENTS[name] = {
            "insert_once": insert_ignoring(name, messages, "dedupe_key").returning(messages.c.id),
            "by_key": select(messages.c.id).where(messages.c.dedupe_key == bindparam("key")),
        }
    return found
