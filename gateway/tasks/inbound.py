"""The inbound job: run the conversation engine over a contact's new messages.

Serialized per contact: the conversation row is locked (FOR UPDATE on
PostgreSQL; SQLite's BEGIN IMMEDIATE serializes writers), and the job handles
every unprocessed message of the contact in arrival order, so two jobs for the
same contact never interleave and a message is never handled twice: it is
marked processed in the same transaction as its effects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from adapters.base import Attachment, InboundMessage, Location
from conversations.context import Context, TicketInfo
from conversations.effects import (
    AppendToTicket,
    CreateTicket,
    DraftExpired,
    Reply,
    ScheduleTimeout,
    SetLanguage,
    SetOptOut,
)
from conversations.engine import step
from conversations.events import MessageReceived, TimeoutFired
from conversations.state import ConversationState
from conversations.tracking import new_tracking_number
from gateway.db import insert_ignoring
from gateway.jobs import RetryLater, record_job, transactional_handler
from gateway.models import Contact, Conversation, IncompleteDraft, Message, Ticket, utcnow
from gateway.outbound import queue_message_id
from gateway.runtime import Runtime

log = logging.getLogger(__name__)


def message_from_row(row: Any) -> InboundMessage:
    """Rebuild the normalized message from its row (a `Message` or a plain row of its columns)."""
    raw = row.raw or {}
    location = Location(**row.location) if row.location else None
    attachments = tuple(
        Attachment(**{k: v for k, v in a.items() if k in Attachment.__dataclass_fields__})
        for a in row.attachments or []
    )
    return InboundMessage(
        channel=row.channel,
        provider_message_id=row.provider_message_id or str(row.id),
        sender=row.address,
        text=row.text,
        kind=row.kind,
        recipient=row.peer,
        sender_name=row.sender_name,
        attachments=attachments,
        location=location,
        timestamp=row.provider_timestamp or row.created_at,
        language=row.language,
        button_payload=row.button_payload,
        command=raw.get("command"),
        command_args=raw.get("command_args"),
        edited=bool(raw.get("edited")),
        callback_id=raw.get("callback_id"),
        raw=raw.get("payload") or {},
    )


def _lock_conversation(session: Session, contact_id: int) -> Conversation:
    conv = session.scalar(select(Conversation).where(Conversation.contact_id == contact_id).with_for_update())
    if conv is None:
        conv = Conversation(contact_id=contact_id, state={}, intake_state="idle", version=0)
        session.add(conv)
        session.flush()
    return conv


_TRACKING_TAKEN = select(Ticket.__table__.c.id).where(Ticket.__table__.c.tracking == bindparam("number"))
_HAS_TICKETS = select(Ticket.__table__.c.id).where(Ticket.__table__.c.contact_id == bindparam("cid")).limit(1)


def _unique_tracking(session: Session) -> str:
    while True:
        number = new_tracking_number()
        if session.execute(_TRACKING_TAKEN, {"number": number}).first() is None:
            return number


def last_public_update(ticket: Ticket) -> str | None:
    """The latest note the citizen may read (status notes, not internal ones)."""
    for event in reversed(ticket.events):
        if event.note and not event.internal:
            return event.note
    return None


def _ticket_infos(session: Session, contact_id: int) -> tuple[TicketInfo, ...]:
    if session.execute(_HAS_TICKETS, {"cid": contact_id}).first() is None:
        return ()  # most turns: a citizen's first complaint (one indexed lookup, no ORM load)
    tickets = session.scalars(
        select(Ticket).where(Ticket.contact_id == contact_id).order_by(Ticket.id.desc()).limit(20)
    ).all()
    return tuple(
        TicketInfo(
            tracking=t.tracking,
            status=t.status,
            updated_at=t.updated_at,
            last_update=last_public_update(t),
            agency_name=t.agency.name if t.agency else None,
        )
        for t in tickets
    )


def build_context(runtime: Runtime, session: Session, contact_id: int, channel: str) -> Context:
    adapter = runtime.adapter(channel)
    return Context(
        channel=channel,
        menu_style=adapter.menu_style if adapter else "numbered",
        max_text_length=adapter.max_text_length if adapter else 306,
        now=utcnow(),
        tickets=_ticket_infos(session, contact_id),
        new_tracking=_unique_tracking(session),
    )


def _ready_segments(session: Session, row: Message, concat_timeout: float) -> list[Message] | None:
    """All parts of ``row``'s multipart SMS when complete or timed out; None to wait."""
    parts = session.scalars(
        select(Message)
        .where(
            Message.direction == "in",
            Message.channel == row.channel,
            Message.address == row.address,
            Message.segment_ref == row.segment_ref,
            Message.processed_at.is_(None),
        )
        .order_by(Message.segment_number, Message.id)
    ).all()
    numbers = {p.segment_number for p in parts}
    complete = len(numbers) >= (row.segment_total or 1)
    oldest = min(p.created_at for p in parts)
    if complete or utcnow() - oldest >= timedelta(seconds=concat_timeout):
        return list(parts)
    return None


def _merged_message(parts: list[Message]) -> InboundMessage:
    from adapters.sms.concat import merge_segments

    return merge_segments([message_from_row(p) for p in parts])


# Jobs of a backlog one worker claims and runs together (in transactions of at most 10 ms, a
# savepoint each; see gateway.jobs.runner): one rq round trip for the batch, not per message.
INBOUND_BATCH = 20


@dataclass
class _Plan:
    """One job's conversation turns, worked out in a read-only transaction (see `_look`)."""

    contact_id: int
    version: int | None  # of the conversation as read; None: it had no row yet
    turns: list[tuple[Any, list[Any], str]]  # the message's row, its effects, the language
    state: ConversationState  # after the last turn

    @property
    def message_ids(self) -> list[int]:
        return [row.id for row, _effects, _language in self.turns]


class _Stale(Exception):
    """What `_look` read changed before the write: the handler does the work again, locked."""


# Effects the fast path writes itself; any other (a ticket, STOP, a language change, an
# expired draft) sends the job down the locked path, where they are rare anyway.
_PLAIN_EFFECTS = (Reply, ScheduleTimeout)


_CONTACT_AND_CONVERSATION = (
    select(Contact.__table__.c.id, Conversation.__table__.c.state, Conversation.__table__.c.version)
    .select_from(Contact.__table__)
    .outerjoin(Conversation.__table__, Conversation.__table__.c.contact_id == Contact.__table__.c.id)
    .where(Contact.__table__.c.id == bindparam("cid"))
)
# The columns `message_from_row` and the fast path read, as plain rows (no ORM objects).
_PENDING = (
    select(
        *(
            Message.__table__.c[name]
            for name in (
                "id",
                "channel",
                "provider_message_id",
                "address",
                "text",
                "kind",
                "peer",
                "sender_name",
                "attachments",
                "location",
                "provider_timestamp",
                "created_at",
                "language",
                "button_payload",
                "raw",
                "segment_ref",
                "ticket_id",
            )
        )
    )
    .where(
        Message.__table__.c.contact_id == bindparam("cid"),
        Message.__table__.c.direction == "in",
        Message.__table__.c.processed_at.is_(None),
    )
    .order_by(Message.__table__.c.id)
)


def _look(runtime: Runtime, session: Session, payload: dict[str, Any]) -> _Plan | None:
    """The usual turn without SQLite's write lock: read the conversation, the pending messages and
    the context, and run the engine. None sends the job down the locked path."""
    contact_id = int(payload["contact_id"])
    found = session.execute(_CONTACT_AND_CONVERSATION, {"cid": contact_id}).first()
    if found is None:
        return None  # no such contact: the locked path says so
    rows = session.execute(_PENDING, {"cid": contact_id}).all()
    if not rows or any(row.segment_ref for row in rows):
        return None
    # No conversation row yet: the outer join gives NULLs, and the turn starts from a new state.
    state = ConversationState.from_dict(found.state) if found.state else ConversationState.new()
    turns: list[tuple[Any, list[Any], str]] = []
    for row in rows:
        ctx = build_context(runtime, session, contact_id, row.channel)
        result = step(state, MessageReceived(message_from_row(row)), ctx)
        if not all(isinstance(effect, _PLAIN_EFFECTS) for effect in result.effects):
            return None
        state = result.new_state
        turns.append((row, list(result.effects), state.language))
    return _Plan(contact_id, found.version, turns, state)


def _write_plan(session: Session, plan: _Plan) -> None:
    """Write what `_look` worked out, if the conversation and its messages are as it saw them:
    the conversation only where its version is unchanged, the messages only where still
    unprocessed. Raises `_Stale` otherwise (the caller's savepoint undoes this)."""
    now = utcnow()
    last = plan.turns[-1][0]
    values = {
        "state": plan.state.to_dict(),
        "intake_state": plan.state.stage,
        "version": plan.state.version,
        "last_activity_at": now,
        "channel": last.channel,
        "address": last.address,
    }
    if plan.version is None:
        created = session.execute(
            insert_ignoring(session.get_bind().dialect.name, Conversation.__table__, "contact_id")
            .values(contact_id=plan.contact_id, **values)
            .returning(Conversation.id)
        ).scalar_one_or_none()
        if created is None:
            raise _Stale("a conversation was created meanwhile")
    else:
        moved = session.execute(
            update(Conversation)
            .where(Conversation.contact_id == plan.contact_id, Conversation.version == plan.version)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            raise _Stale("the conversation moved on meanwhile")
    taken = session.execute(
        update(Message)
        .where(Message.id.in_(plan.message_ids), Message.processed_at.is_(None))
        .values(processed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != len(plan.message_ids):
        raise _Stale("a message was processed meanwhile")
    for row, effects, language in plan.turns:
        key = f"m{row.id}"
        for index, effect in enumerate(effects):
            if isinstance(effect, Reply):
                where = (row.channel, row.address, plan.contact_id)
                _queue_reply(session, effect, f"reply:{key}:{index}", *where, language, row.ticket_id)
            else:
                _record_timeout(session, plan.contact_id, effect)


def _queue_reply(
    session: Session,
    effect: Reply,
    dedupe_key: str,
    channel: str,
    address: str,
    contact_id: int,
    language: str,
    ticket_id: int | None,
) -> None:
    """The engine's reply as an outbound message and its send job (once per ``dedupe_key``)."""
    queue_message_id(
        session,
        channel=channel,
        address=address,
        text=effect.text,
        contact_id=contact_id,
        dedupe_key=dedupe_key,
        buttons=[
            {"payload": b.payload, "title": b.title, "description": b.description} for b in effect.buttons
        ],
        menu_title=effect.menu_title,
        language=language,
        ticket_id=ticket_id,
    )


def _record_timeout(session: Session, contact_id: int, effect: ScheduleTimeout) -> None:
    record_job(
        session,
        "conversation_timeout",
        {"contact_id": contact_id, "kind": effect.kind, "version": effect.version},
        delay=effect.delay_seconds,
        dedupe_key=f"timeout:{contact_id}:{effect.kind}:{effect.version}",
    )


@transactional_handler("process_inbound", batch=INBOUND_BATCH, read=_look)
def process_inbound(
    runtime: Runtime, session: Session, payload: dict[str, Any], seen: _Plan | None = None
) -> RetryLater | None:
    contact_id = int(payload["contact_id"])
    if seen is not None:
        try:
            with session.begin_nested():
                _write_plan(session, seen)
        except _Stale:
            pass  # done again below, with the conversation locked
        else:
            flush_waiting_notifications(session, contact_id)
            return None
    wait_for_segments: float | None = None
    conv = _lock_conversation(session, contact_id)
    contact = session.get(Contact, contact_id)
    if contact is None:
        return None
    pending = session.scalars(
        select(Message)
        .where(Message.contact_id == contact_id, Message.direction == "in", Message.processed_at.is_(None))
        .order_by(Message.id)
    ).all()
    handled: set[int] = set()
    for row in pending:
        if row.id in handled:
            continue
        if row.segment_ref:
            parts = _ready_segments(session, row, runtime.settings.sms_concat_timeout)
            if parts is None:
                wait_for_segments = runtime.settings.sms_concat_timeout
                continue
            message = _merged_message(parts)
            group = parts
        else:
            message = message_from_row(row)
            group = [row]
        run_engine(runtime, session, conv, contact, MessageReceived(message), source=group[0])
        now = utcnow()
        for part in group:
            part.processed_at = now
            handled.add(part.id)
    flush_waiting_notifications(session, contact_id)
    if wait_for_segments is not None:
        return RetryLater("waiting for the rest of a multipart SMS", wait_for_segments / 4, counts=False)
    return None


@transactional_handler("conversation_timeout")
def conversation_timeout(
    runtime: Runtime, session: Session, payload: dict[str, Any], seen: Any = None
) -> None:
    contact_id = int(payload["contact_id"])
    conv = _lock_conversation(session, contact_id)
    contact = session.get(Contact, contact_id)
    if contact is None or conv.version != int(payload["version"]):
        return  # the conversation moved on: a stale timeout does nothing
    run_engine(
        runtime,
        session,
        conv,
        contact,
        TimeoutFired(payload["kind"], int(payload["version"])),
        source=None,
    )


def run_engine(
    runtime: Runtime,
    session: Session,
    conv: Conversation,
    contact: Contact,
    event: Any,
    source: Message | None,
) -> None:
    """One engine step and its effects, inside the caller's transaction."""
    channel = source.channel if source is not None else (conv.channel or "sms")
    address = source.address if source is not None else (conv.address or "")
    state = ConversationState.from_dict(conv.state) if conv.state else ConversationState.new()
    ctx = build_context(runtime, session, contact.id, channel)
    result = step(state, event, ctx)
    new_state = result.new_state
    conv.state = new_state.to_dict()
    conv.intake_state = new_state.stage
    conv.version = new_state.version
    conv.last_activity_at = utcnow()
    if source is not None:
        conv.channel, conv.address = channel, address
    key = f"m{source.id}" if source is not None else f"t{conv.id}:{event.kind}:{event.version}"
    apply_effects(
        runtime, session, contact, conv, result.effects, channel, address, key, source, new_state.language
    )


def apply_effects(
    runtime: Runtime,
    session: Session,
    contact: Contact,
    conv: Conversation,
    effects: list[Any],
    channel: str,
    address: str,
    key: str,
    source: Message | None,
    language: str,
) -> None:
    for index, effect in enumerate(effects):
        if isinstance(effect, Reply):
            ticket_id = source.ticket_id if source is not None else None
            _queue_reply(
                session, effect, f"reply:{key}:{index}", channel, address, contact.id, language, ticket_id
            )
        elif isinstance(effect, CreateTicket):
            from gateway.tickets import service as tickets

            ticket = tickets.create_ticket(
                session,
                runtime,
                contact=contact,
                tracking=effect.tracking,
                description=effect.description,
                category=effect.category,
                location_text=effect.location_text,
                latitude=effect.location.latitude if effect.location else None,
                longitude=effect.location.longitude if effect.location else None,
                privacy=effect.privacy,
                privacy_chosen=getattr(effect, "privacy_chosen", True),
                channel=channel,
                address=address,
                language=effect.language,
                source="message",
                attachments=[a.__dict__ for a in effect.attachments],
                message_ids=list(effect.message_ids),
            )
            _link_messages(session, contact.id, ticket.id)
        elif isinstance(effect, AppendToTicket):
            ticket = session.scalar(select(Ticket).where(Ticket.tracking == effect.tracking))
            if ticket is not None and source is not None:
                from gateway.tickets import service as tickets

                source.ticket_id = ticket.id
                tickets.add_citizen_message(session, runtime, ticket, source)
        elif isinstance(effect, ScheduleTimeout):
            _record_timeout(session, contact.id, effect)
        elif isinstance(effect, SetOptOut):
            contact.opted_out = effect.opted_out
        elif isinstance(effect, SetLanguage):
            contact.language = effect.language
        elif isinstance(effect, DraftExpired):
            session.add(IncompleteDraft(contact_id=contact.id, channel=channel, data=dict(effect.draft)))


def _link_messages(session: Session, contact_id: int, ticket_id: int) -> None:
    """Attach the conversation's recent unlinked messages (the draft's thread) to the new ticket."""
    rows = session.scalars(
        select(Message)
        .where(Message.contact_id == contact_id, Message.ticket_id.is_(None))
        .order_by(Message.id.desc())
        .limit(50)
    ).all()
    for row in rows:
        row.ticket_id = ticket_id


_WAITING = select(Message.__table__.c.id).where(
    Message.__table__.c.contact_id == bindparam("cid"),
    Message.__table__.c.direction == "out",
    Message.__table__.c.delivery_status == "waiting",
)


def flush_waiting_notifications(session: Session, contact_id: int) -> None:
    """Updates held back by a closed WhatsApp window go out now that the citizen wrote."""
    if session.execute(_WAITING.limit(1), {"cid": contact_id}).first() is None:
        return  # nearly always: one indexed lookup, no ORM load
    waiting = session.scalars(
        select(Message).where(
            Message.contact_id == contact_id, Message.direction == "out", Message.delivery_status == "waiting"
        )
    ).all()
    for row in waiting:
        row.delivery_status = "pending"
        record_job(
            session, "send_message", {"message_id": row.id}, dedupe_key=f"send:{row.id}:retry{row.attempts}"
        )
