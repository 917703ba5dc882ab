"""The inbound job: run the conversation engine over a contact's new messages.

Serialized per contact: the conversation row is locked (FOR UPDATE on
PostgreSQL; SQLite's BEGIN IMMEDIATE serializes writers), and the job handles
every unprocessed message of the contact in arrival order, so two jobs for the
same contact never interleave and a message is never handled twice: it is
marked processed in the same transaction as its effects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import String, bindparam, select, type_coerce, update
from sqlalchemy.orm import Session

from adapters.base import Attachment, InboundMessage, Location, Segment
from conversations.context import Context, TicketInfo
from conversations.effects import (
    AppendToTicket,
    CreateTicket,
    DraftExpired,
    FlagEmergency,
    Reply,
    ScheduleTimeout,
    SetLanguage,
    SetOptOut,
)
from conversations.engine import step
from conversations.events import MessageReceived, TimeoutFired
from conversations.state import CONFIRMING, ConversationState
from conversations.tracking import new_tracking_number
from gateway.db import insert_ignoring
from gateway.jobs import RetryLater, record_job, transactional_handler
from gateway.jobs.attempts import backoff_delay
from gateway.jobs.outbox import JobSpec, record_jobs
from gateway.models import Contact, Conversation, IncompleteDraft, Message, Ticket, utcnow
from gateway.outbound import OutboundRow, queue_message_ids
from gateway.runtime import Runtime
from gateway.tasks import unprocessable

log = logging.getLogger(__name__)


def message_from_row(row: Any) -> InboundMessage:
    """Rebuild the normalized message from its row (a `Message` or a plain row of its columns).

    Everything `gateway.inbound.message_values` stored comes back, the part of a long SMS
    (``segment``) included: merging the parts needs it. The provider id stays the provider's
    (empty when there is none): a row id in its place would be taken for a provider's.
    """
    raw = row.raw or {}
    location = Location(**row.location) if row.location else None
    attachments = tuple(
        Attachment(**{k: v for k, v in a.items() if k in Attachment.__dataclass_fields__})
        for a in row.attachments or []
    )
    return InboundMessage(
        channel=row.channel,
        provider_message_id=row.provider_message_id or "",
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
        segment=_segment(row),
        raw=raw.get("payload") or {},
    )


def _segment(row: Any) -> Segment | None:
    """The part of a long SMS a row holds, from the three columns `message_values` fills."""
    if not row.segment_ref:
        return None
    return Segment(
        reference=row.segment_ref, total=int(row.segment_total or 1), number=int(row.segment_number or 1)
    )


def lock_conversation(session: Session, contact_id: int) -> Conversation:
    """The contact's conversation row, locked for this transaction (created if it has none)."""
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
    return _context(runtime, channel, _ticket_infos(session, contact_id), _unique_tracking(session))


def _context(runtime: Runtime, channel: str, tickets: tuple[TicketInfo, ...], tracking: str) -> Context:
    adapter = runtime.adapter(channel)
    return Context(
        channel=channel,
        menu_style=adapter.menu_style if adapter else "numbered",
        max_text_length=adapter.max_text_length if adapter else 306,
        now=utcnow(),
        tickets=tickets,
        new_tracking=tracking,
        retention_months=runtime.settings.retention_months,
    )


_TRACKINGS_TAKEN = select(Ticket.__table__.c.tracking).where(
    Ticket.__table__.c.tracking.in_(bindparam("numbers", expanding=True))
)


def _unique_trackings(session: Session, count: int) -> list[str]:
    """``count`` distinct tracking numbers no ticket has, checked in one query per round."""
    numbers: set[str] = set()
    while len(numbers) < count:
        fresh = {new_tracking_number() for _ in range(count - len(numbers))} - numbers
        numbers |= fresh - set(session.scalars(_TRACKINGS_TAKEN, {"numbers": list(fresh)}))
    return list(numbers)


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
                "segment_total",
                "segment_number",
                "ticket_id",
                "contact_id",
            )
        )
    )
    .where(
        Message.__table__.c.contact_id.in_(bindparam("cids", expanding=True)),
        Message.__table__.c.direction == "in",
        # "|| ''" keeps this term off the indexes: for a list of contacts SQLite's planner
        # otherwise prefers the pending-inbound index (direction, processed_at), that is reading
        # the whole backlog, to the contacts' own entries (tests/gateway/test_query_plans.py).
        type_coerce(Message.__table__.c.processed_at, String).concat("").is_(None),
    )
    .order_by(Message.__table__.c.id)
)


_CONTACTS_AND_CONVERSATIONS = (
    select(Contact.__table__.c.id, Conversation.__table__.c.state, Conversation.__table__.c.version)
    .select_from(Contact.__table__)
    .outerjoin(Conversation.__table__, Conversation.__table__.c.contact_id == Contact.__table__.c.id)
    .where(Contact.__table__.c.id.in_(bindparam("cids", expanding=True)))
)
_WITH_TICKETS = (
    select(Ticket.__table__.c.contact_id)
    .where(Ticket.__table__.c.contact_id.in_(bindparam("cids", expanding=True)))
    .distinct()
)


def _look(runtime: Runtime, session: Session, payload: dict[str, Any]) -> _Plan | None:
    """The usual turn without SQLite's write lock: read the conversation, the pending messages and
    the context, and run the engine. None sends the job down the locked path."""
    return _look_many(runtime, session, [payload])[0]


def _look_many(runtime: Runtime, session: Session, payloads: list[dict[str, Any]]) -> list[_Plan | None]:
    """`_look` for a batch of jobs, with one query per kind of row for all their contacts (the
    contact and its conversation, the pending messages, whether it has tickets, fresh tracking
    numbers) instead of four per job. Two jobs of one contact get the same plan."""
    contact_ids = list(dict.fromkeys(int(p["contact_id"]) for p in payloads))
    found = {row.id: row for row in session.execute(_CONTACTS_AND_CONVERSATIONS, {"cids": contact_ids})}
    pending: dict[int, list[Any]] = {}
    if found:
        for row in session.execute(_PENDING, {"cids": list(found)}):
            pending.setdefault(row.contact_id, []).append(row)
    # Contacts with a ticket need its list for status questions (rare among first messages).
    with_tickets = set(session.scalars(_WITH_TICKETS, {"cids": list(pending)})) if pending else set()
    trackings = _unique_trackings(session, sum(len(rows) for rows in pending.values()))
    plans: dict[int, _Plan | None] = {}
    for contact_id in contact_ids:
        rows = pending.get(contact_id)
        if contact_id not in found or not rows or any(row.segment_ref for row in rows):
            plans[contact_id] = None  # the locked path handles (or reports) these
            continue
        tickets = _ticket_infos(session, contact_id) if contact_id in with_tickets else ()
        plans[contact_id] = _turns(runtime, contact_id, found[contact_id], rows, tickets, trackings)
    return [plans[int(p["contact_id"])] for p in payloads]


def _turns(
    runtime: Runtime,
    contact_id: int,
    found: Any,
    rows: list[Any],
    tickets: tuple[TicketInfo, ...],
    trackings: list[str],
) -> _Plan | None:
    """Run the engine over a contact's pending messages; None if a turn needs the locked path."""
    # No conversation row yet: the outer join gives NULLs, and the turn starts from a new state.
    state = ConversationState.from_dict(found.state) if found.state else ConversationState.new()
    turns: list[tuple[Any, list[Any], str]] = []
    for row in rows:
        ctx = _context(runtime, row.channel, tickets, trackings.pop())
        result = step(state, MessageReceived(message_from_row(row)), ctx)
        if not all(isinstance(effect, _PLAIN_EFFECTS) for effect in result.effects):
            return None
        state = result.new_state
        turns.append((row, list(result.effects), state.language))
    return _Plan(contact_id, found.version, turns, state)


def _conversation_values(plan: _Plan, now: Any) -> dict[str, Any]:
    last = plan.turns[-1][0]
    return {
        "state": plan.state.to_dict(),
        "intake_state": plan.state.stage,
        "version": plan.state.version,
        "last_activity_at": now,
        "channel": last.channel,
        "address": last.address,
    }


_CONVERSATIONS = Conversation.__table__
# The fast path's conversation write for many turns at once (executemany): only where the
# version is still the one `_look` read.
_MOVE_CONVERSATION = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.contact_id == bindparam("cid"), _CONVERSATIONS.c.version == bindparam("seen"))
    .values(
        state=bindparam("state"),
        intake_state=bindparam("intake_state"),
        version=bindparam("version"),
        last_activity_at=bindparam("last_activity_at"),
        channel=bindparam("channel"),
        address=bindparam("address"),
    )
)


def _write_plans(session: Session, plans: list[_Plan]) -> None:
    """Write what `_look` worked out for one or more contacts, if their conversations and
    messages are as it saw them: a conversation only where its version is unchanged (or, for a
    new one, where none was created meanwhile), the messages only where still unprocessed.
    Raises `_Stale` otherwise (the caller's savepoint undoes everything).

    One statement per kind of row whatever the number of contacts (executemany): a batch of
    twenty first messages costs five statements here, not a hundred."""
    now = utcnow()
    fresh = [plan for plan in plans if plan.version is None]
    if fresh:
        statement = insert_ignoring(session.get_bind().dialect.name, _CONVERSATIONS, "contact_id")
        created = session.execute(
            statement.returning(_CONVERSATIONS.c.contact_id),
            [{"contact_id": plan.contact_id, **_conversation_values(plan, now)} for plan in fresh],
        ).all()
        if len(created) != len(fresh):
            raise _Stale("a conversation was created meanwhile")
    known = [plan for plan in plans if plan.version is not None]
    if known:
        moved = session.execute(
            _MOVE_CONVERSATION,
            [
                {"cid": plan.contact_id, "seen": plan.version, **_conversation_values(plan, now)}
                for plan in known
            ],
        ).rowcount
        if moved != len(known):
            raise _Stale("a conversation moved on meanwhile")
    message_ids = [mid for plan in plans for mid in plan.message_ids]
    taken = session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.processed_at.is_(None))
        .values(processed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != len(message_ids):
        raise _Stale("a message was processed meanwhile")
    replies: list[OutboundRow] = []
    timeouts: list[JobSpec] = []
    for plan in plans:
        for row, effects, language in plan.turns:
            for index, effect in enumerate(effects):
                if isinstance(effect, Reply):
                    replies.append(
                        _reply_row(
                            effect,
                            f"reply:m{row.id}:{index}",
                            row.channel,
                            row.address,
                            plan.contact_id,
                            language,
                            row.ticket_id,
                        )
                    )
                else:
                    timeouts.append(_timeout_job(plan.contact_id, effect))
    queue_message_ids(session, replies)
    record_jobs(session, timeouts)


def _reply_row(
    effect: Reply,
    dedupe_key: str,
    channel: str,
    address: str,
    contact_id: int,
    language: str,
    ticket_id: int | None,
) -> OutboundRow:
    """The engine's reply as an outbound message (stored, with its send job, once per
    ``dedupe_key``)."""
    return OutboundRow(
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


def _timeout_job(contact_id: int, effect: ScheduleTimeout) -> JobSpec:
    return JobSpec(
        "conversation_timeout",
        {"contact_id": contact_id, "kind": effect.kind, "version": effect.version},
        f"timeout:{contact_id}:{effect.kind}:{effect.version}",
        delay=effect.delay_seconds,
    )


def process_inbound_many(
    runtime: Runtime, session: Session, jobs: list[tuple[int, dict[str, Any], Any]]
) -> list[int]:
    """The batch's usual turns written together (see `_write_plans`); returns the ids of the jobs
    done. The runner calls this in a savepoint and undoes it all on any error; the jobs not
    returned (no look, or a look the contact's first job in the batch does not cover) take the
    one-job way."""
    plans: dict[int, tuple[int, _Plan]] = {}
    covered: list[int] = []
    for job_id, _payload, seen in jobs:
        if not isinstance(seen, _Plan):
            continue
        first = plans.get(seen.contact_id)
        if first is None:
            plans[seen.contact_id] = (job_id, seen)
        elif set(seen.message_ids) <= set(first[1].message_ids):
            # A second job of the contact (one per message) that saw no message the first did
            # not: the first job's turns, written below, are this one's work too.
            covered.append(job_id)
    if len(plans) < 2:
        return []
    _write_plans(session, [plan for _job_id, plan in plans.values()])
    waiting = session.execute(_ANY_WAITING, {"cids": list(plans)}).scalars().all()
    for contact_id in waiting:
        flush_waiting_notifications(session, contact_id)
    return [job_id for job_id, _plan in plans.values()] + covered


@transactional_handler(
    "process_inbound", batch=INBOUND_BATCH, read=_look, read_many=_look_many, many=process_inbound_many
)
def process_inbound(
    runtime: Runtime, session: Session, payload: dict[str, Any], seen: _Plan | None = None
) -> RetryLater | None:
    contact_id = int(payload["contact_id"])
    if seen is not None:
        try:
            with session.begin_nested():
                _write_plans(session, [seen])
        except _Stale:
            pass  # done again below, with the conversation locked
        else:
            flush_waiting_notifications(session, contact_id)
            return None
    wait_for_segments: float | None = None
    conv = lock_conversation(session, contact_id)
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
        group = [row]
        if row.segment_ref:
            parts = _ready_segments(session, row, runtime.settings.sms_concat_timeout)
            if parts is None:
                wait_for_segments = runtime.settings.sms_concat_timeout
                continue
            group = parts
        handled.update(part.id for part in group)
        try:
            with session.begin_nested():  # a turn that raises leaves nothing behind
                message = _merged_message(group) if row.segment_ref else message_from_row(row)
                run_engine(runtime, session, conv, contact, MessageReceived(message), source=group[0])
                now = utcnow()
                for part in group:
                    part.processed_at = now
        except Exception as exc:
            attempts = unprocessable.note_failure(group, exc)
            log.warning("turn failed", exc_info=True, extra={"message_id": row.id, "attempts": attempts})
            if attempts < unprocessable.TURN_ATTEMPTS:
                # The later messages wait behind this one, so their order holds.
                flush_waiting_notifications(session, contact_id)
                return RetryLater(f"turn failed: {unprocessable.describe(exc)}", backoff_delay(attempts))
            with session.begin_nested():
                unprocessable.hand_to_person(
                    runtime, session, conv, contact, group, unprocessable.describe(exc)
                )
    flush_waiting_notifications(session, contact_id)
    if wait_for_segments is not None:
        return RetryLater("waiting for the rest of a multipart SMS", wait_for_segments / 4, counts=False)
    return None


@transactional_handler("conversation_timeout")
def conversation_timeout(
    runtime: Runtime, session: Session, payload: dict[str, Any], seen: Any = None
) -> None:
    contact_id = int(payload["contact_id"])
    conv = lock_conversation(session, contact_id)
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
    if state.draft is not None and state.stage == CONFIRMING:
        from gateway.tickets.service import dispatch_at_once

        # If this step files the draft (only an answer to the summary does), the confirmation
        # says where it went (see Context); routing is not scored on the turns before it.
        ctx = replace(
            ctx,
            dispatch_to=dispatch_at_once(
                runtime, state.draft.full_description(), state.draft.category, state.draft.location_text
            ),
        )
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
        runtime,
        session,
        contact,
        conv,
        result.effects,
        channel,
        address,
        key,
        source,
        new_state.language,
        told_dispatch=ctx.dispatch_to is not None,
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
    told_dispatch: bool = False,
) -> None:
    """Carry out the engine's effects; ``told_dispatch``: its confirmation of a filed ticket
    already named the agency it goes to at once, so no separate notice follows it."""
    for index, effect in enumerate(effects):
        if isinstance(effect, Reply):
            ticket_id = source.ticket_id if source is not None else None
            reply = f"reply:{key}:{index}"
            queue_message_ids(
                session, [_reply_row(effect, reply, channel, address, contact.id, language, ticket_id)]
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
                message_ids=_own_message_rows(session, contact.id, effect.message_ids),
                notify_dispatch=not told_dispatch,
            )
            _link_messages(session, contact.id, ticket.id)
        elif isinstance(effect, AppendToTicket):
            # Only the citizen's own ticket: whatever the state names, a follow-up never
            # lands in another citizen's thread.
            ticket = session.scalar(
                select(Ticket).where(Ticket.tracking == effect.tracking, Ticket.contact_id == contact.id)
            )
            if ticket is not None and source is not None:
                from gateway.tickets import service as tickets

                source.ticket_id = ticket.id
                tickets.add_citizen_message(session, runtime, ticket, source)
        elif isinstance(effect, ScheduleTimeout):
            record_jobs(session, [_timeout_job(contact.id, effect)])
        elif isinstance(effect, SetOptOut):
            contact.opted_out = effect.opted_out
        elif isinstance(effect, SetLanguage):
            contact.language = effect.language
        elif isinstance(effect, DraftExpired):
            session.add(IncompleteDraft(contact_id=contact.id, channel=channel, data=dict(effect.draft)))
        elif isinstance(effect, FlagEmergency):
            flagged = session.scalar(select(Ticket).where(Ticket.tracking == effect.tracking))
            if flagged is not None:
                from gateway.tickets import emergency

                emergency.flag(flagged, effect.kind)


def _own_message_rows(session: Session, contact_id: int, provider_ids: Any) -> list[int]:
    """Row ids of the contact's own inbound messages that carry these provider ids.

    The draft keeps the provider's ids (the engine knows no rows); the ticket keeps row ids.
    The two are never compared: a provider id is looked up only as a provider id, and only
    among this citizen's messages.
    """
    wanted = [str(i) for i in provider_ids if i]
    if not wanted:
        return []
    return list(
        session.scalars(
            select(Message.id)
            .where(
                Message.contact_id == contact_id,
                Message.direction == "in",
                Message.provider_message_id.in_(wanted),
            )
            .order_by(Message.id)
        )
    )


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


_ANY_WAITING = (
    select(Message.__table__.c.contact_id)
    .where(
        Message.__table__.c.contact_id.in_(bindparam("cids", expanding=True)),
        Message.__table__.c.direction == "out",
        Message.__table__.c.delivery_status == "waiting",
    )
    .distinct()
)
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
