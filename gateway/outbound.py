"""Queueing a message to a citizen: a row in ``messages`` plus a send job, in one transaction.

Every reply, operator answer and status update goes through `queue_message`, so
that each has a ``dedupe_key``: asking twice to send the same thing (a job run
twice, a double click) stores and sends it once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.jobs import record_job
from gateway.models import Message


def queue_message(
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
) -> Message:
    """Store an outbound message and record its send job; idempotent on ``dedupe_key``.

    ``purpose`` is "reply" (an answer inside a conversation) or "notification"
    (a ticket update, which may need a WhatsApp template outside the 24-hour window).
    """
    existing = session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    message = Message(
        direction="out",
        channel=channel,
        address=address,
        text=text,
        contact_id=contact_id,
        ticket_id=ticket_id,
        author=author,
        operator_id=operator_id,
        dedupe_key=dedupe_key,
        delivery_status="pending",
        language=language,
        payload={"buttons": buttons or [], "menu_title": menu_title, "purpose": purpose},
    )
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        found = session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))
        assert found is not None
        return found
    record_job(session, "send_message", {"message_id": message.id}, dedupe_key=f"send:{message.id}")
    return message
