"""The inbound job: run the conversation engine over a contact's new messages.

Serialized per contact: the conversation row is locked (FOR UPDATE on
PostgreSQL; SQLite's BEGIN IMMEDIATE serializes writers), and the job handles
every unprocessed message of the contact in arrival order, so two jobs for the
same contact never interleave and a message is never handled twice: it is
marked processed in the same transaction as its effects.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import String, bindparam, select, type_coerce, update
from sqlalchemy.orm import Session

from adapters.base import Attachment, InboundMessage, Location, Segment
from conversations.context import Context, TicketInfo
from conversations.effects import (
    AppendToTicket,
    CommentRating,
    CreateTicket,
    DraftExpired,
    FlagEmergency,
    FollowTicket,
    JoinTicket,
    RateTicket,
    Reply,
    ScheduleTimeout,
    SetLanguage,
    SetOptOut,
)
from conversations.engine import step
from conversations.events import MessageReceived, TimeoutFired
from conversations.state import CONFIRMING, ConversationState
from gateway.messages.outgoing import OutboundRow, queue_message_ids
from gateway.ops.logging_setup import request_context
from gateway.runtime import Runtime
from gateway.store.db import insert_ignoring, rowcount
from gateway.store.models import Contact, Conversation, IncompleteDraft, Message, Ticket, utcnow
from gateway.tickets.service import unique_trackings
from gateway.work import RetryLater, registry
from gateway.work.attempts import backoff_delay
from gateway.work.handlers import unprocessable
from gateway.work.outbox import JobSpec, record_jobs
from gateway.work.registry import AGAIN, Handler, Result

log = logging.getLogger(__name__)


def message_from_row(row: Any) -> InboundMessage:
    """Rebuild the normalized message from its row (a `Message` or a plain row of its columns).

    Everything `gateway.messages.ingest.message_values` stored comes back, the part of a long SMS
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


def last_public_update(ticket: Ticket) -> str | None:
    """The latest note the citizen may read (status notes, not internal ones)."""
    for event in reversed(ticket.events):
        if event.note and not event.internal:
            return event.note
    return None


_WITH_TICKETS = (
    select(Ticket.__table__.c.contact_id)
    .where(Ticket.__table__.c.contact_id.in_(bindparam("cids", expanding=True)))
    .distinct()
)


def _ticket_infos(session: Session, contact_ids: list[int]) -> dict[int, tuple[TicketInfo, ...]]:
    """The latest tickets of each contact that has any, for status questions. One indexed
    lookup finds which contacts have tickets (few do: most turns are a first complaint); only
    theirs are loaded."""
    with_tickets = list(session.scalars(_WITH_TICKETS, {"cids": contact_ids})) if contact_ids else []
    infos: dict[int, tuple[TicketInfo, ...]] = {}
    from gateway.tickets.satisfaction import open_questions

    for contact_id in with_tickets:
        tickets = session.scalars(
            select(Ticket).where(Ticket.contact_id == contact_id).order_by(Ticket.id.desc()).limit(20)
        ).all()
        asked = open_questions(session, [t.id for t in tickets if t.status == "resolved"])
        infos[contact_id] = tuple(
            TicketInfo(
                tracking=t.tracking,
                status=t.status,
                updated_at=t.updated_at,
                last_update=last_public_update(t),
                agency_name=t.agency.name if t.agency else None,
                rating_asked_at=asked.get(t.id),
            )
            for t in tickets
        )
    return infos


def build_context(runtime: Runtime, session: Session, contact_id: int, channel: str) -> Context:
    tickets = _ticket_infos(session, [contact_id]).get(contact_id, ())
    return _context(runtime, channel, tickets, unique_trackings(session, 1)[0])


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
        config=runtime.config,
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
# savepoint each; see gateway.work.runner): one rq round trip for the batch, not per message.
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


def _look(runtime: Runtime, session: Session, payloads: list[dict[str, Any]]) -> list[_Plan | None]:
    """The usual turns worked out without SQLite's write lock, for a batch of jobs: read the
    contacts and their conversations, the pending messages and the context with one query per
    kind of row for all of them, and run the engine. None for a job sends it down the locked
    path, which also handles (or reports) whatever the look could not: a look that fails for
    any reason is not a failed job, so the turn's own failure handling still applies. Two jobs
    of one contact get the same plan."""
    try:
        return _look_or_raise(runtime, session, payloads)
    except Exception:
        log.debug("inbound look failed; the locked path does the turns", exc_info=True)
        return [None] * len(payloads)


def _look_or_raise(runtime: Runtime, session: Session, payloads: list[dict[str, Any]]) -> list[_Plan | None]:
    contact_ids = list(dict.fromkeys(int(p["contact_id"]) for p in payloads))
    found = {row.id: row for row in session.execute(_CONTACTS_AND_CONVERSATIONS, {"cids": contact_ids})}
    pending: dict[int, list[Any]] = {}
    if found:
        for row in session.execute(_PENDING, {"cids": list(found)}):
            pending.setdefault(row.contact_id, []).append(row)
    tickets = _ticket_infos(session, list(pending))
    trackings = unique_trackings(session, sum(len(rows) for rows in pending.values()))
    plans: dict[int, _Plan | None] = {}
    for contact_id in contact_ids:
        rows = pending.get(contact_id)
        if contact_id not in found or not rows or any(row.segment_ref for row in rows):
            plans[contact_id] = None  # the locked path handles (or reports) these
            continue
        try:
            plans[contact_id] = _turns(
                runtime, contact_id, found[contact_id], rows, tickets.get(contact_id, ()), trackings
            )
        except Exception:  # a turn that fails is handled (and counted) on the locked path
            log.debug("turn not worked out ahead", exc_info=True, extra={"contact_id": contact_id})
            plans[contact_id] = None
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


def _write_plans(runtime: Runtime, session: Session, plans: list[_Plan]) -> None:
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
        moved = rowcount(
            session,
            _MOVE_CONVERSATION,
            [
                {"cid": plan.contact_id, "seen": plan.version, **_conversation_values(plan, now)}
                for plan in known
            ],
        )
        if moved != len(known):
            raise _Stale("a conversation moved on meanwhile")
    message_ids = [mid for plan in plans for mid in plan.message_ids]
    taken = rowcount(
        session,
        update(Message)
        .where(Message.id.in_(message_ids), Message.processed_at.is_(None))
        .values(processed_at=now)
        .execution_options(synchronize_session=False),
    )
    if taken != len(message_ids):
        raise _Stale("a message was processed meanwhile")
    apply_effects(
        runtime,
        session,
        [
            Turn(plan.contact_id, effects, row.channel, row.address, f"m{row.id}", language, row)
            for plan in plans
            for row, effects, language in plan.turns
        ],
    )


def _reply_row(effect: Reply, dedupe_key: str, turn: Turn) -> OutboundRow:
    """The engine's reply as an outbound message (stored, with its send job, once per
    ``dedupe_key``)."""
    return OutboundRow(
        channel=turn.channel,
        address=turn.address,
        text=effect.text,
        contact_id=turn.contact_id,
        dedupe_key=dedupe_key,
        buttons=[
            {"payload": b.payload, "title": b.title, "description": b.description} for b in effect.buttons
        ],
        menu_title=effect.menu_title,
        language=turn.language,
        ticket_id=turn.source.ticket_id if turn.source is not None else None,
    )


def _timeout_job(contact_id: int, effect: ScheduleTimeout) -> JobSpec:
    return JobSpec(
        "conversation_timeout",
        {"contact_id": contact_id, "kind": effect.kind, "version": effect.version},
        f"timeout:{contact_id}:{effect.kind}:{effect.version}",
        delay=effect.delay_seconds,
    )


def _written_ahead(runtime: Runtime, session: Session, items: list[tuple[dict[str, Any], Any]]) -> set[int]:
    """The batch's usual turns, as `_look` worked them out, written together (see `_write_plans`);
    the indexes of the jobs done. If anything moved since the look, the contacts' turns are
    tried one by one, and the jobs of a contact that moved take the locked path. A second job
    of a contact that saw no message the first did not is done by the first's turns."""
    plans: dict[int, _Plan] = {}  # contact -> the plan of its first job in the batch
    jobs_of: dict[int, list[int]] = {}  # contact -> the indexes its plan does
    for index, (_payload, seen) in enumerate(items):
        if not isinstance(seen, _Plan):
            continue
        first = plans.get(seen.contact_id)
        if first is None:
            plans[seen.contact_id] = seen
            jobs_of[seen.contact_id] = [index]
        elif set(seen.message_ids) <= set(first.message_ids):
            jobs_of[seen.contact_id].append(index)
    if not plans:
        return set()
    written = list(plans) if _write_in_savepoint(runtime, session, list(plans.values())) else []
    if not written and len(plans) > 1:
        written = [cid for cid, plan in plans.items() if _write_in_savepoint(runtime, session, [plan])]
    flush_waiting_notifications(session, written)
    return {index for contact_id in written for index in jobs_of[contact_id]}


def _write_in_savepoint(runtime: Runtime, session: Session, plans: list[_Plan]) -> bool:
    """`_write_plans` in a savepoint: True if written, False if nothing of it stays."""
    try:
        with session.begin_nested():
            _write_plans(runtime, session, plans)
    except _Stale as exc:
        log.debug("looked-ahead turns not written: %s", exc)
        return False
    except Exception:  # the locked path does these turns (and handles a turn that fails)
        log.warning("looked-ahead turns not written", exc_info=True)
        return False
    return True


def _each(
    session: Session,
    items: list[tuple[dict[str, Any], Any]],
    skip: set[int],
    work: Callable[[dict[str, Any]], RetryLater | None],
) -> list[Result]:
    """``work`` for each job not in ``skip``, in a savepoint of its own (a job that raises is
    undone alone, its result is the exception), until the transaction has run its time
    (`BATCH_TRANSACTION_SECONDS`); the jobs not reached are `AGAIN`."""
    results: list[Result] = [None if index in skip else AGAIN for index in range(len(items))]
    began = time.monotonic()
    ran = 0
    for index, (payload, _seen) in enumerate(items):
        if index in skip:
            continue
        if ran and time.monotonic() - began >= registry.BATCH_TRANSACTION_SECONDS:
            break
        ran += 1
        try:
            with session.begin_nested(), request_context(_request_id(payload)):
                results[index] = work(payload)
        except Exception as exc:  # this job only; the others go on
            results[index] = exc
    return results


def _request_id(payload: dict[str, Any]) -> str | None:
    value = payload.get("request_id")
    return str(value) if value else None


class ProcessInbound(Handler):
    """Run the conversation over a contact's new messages: the work happens in ``end``, in the
    transaction that marks the job done, so a turn is written exactly with its job's end.

    ``read`` works the usual turns out ahead without the write lock (`_look`); ``end`` writes
    them together where nothing moved since (`_written_ahead`) and does every other job with
    the contact's conversation locked (`_process_locked`)."""

    batch = INBOUND_BATCH

    def read(self, runtime: Runtime, session: Session, payloads: list[dict[str, Any]]) -> list[_Plan | None]:
        return _look(runtime, session, payloads)

    def end(self, runtime: Runtime, session: Session, done: list[tuple[Any, Any]]) -> list[Result]:
        items: list[tuple[dict[str, Any], Any]] = [state for state, _outcome in done]
        ahead = _written_ahead(runtime, session, items)
        return _each(session, items, ahead, lambda payload: _process_locked(runtime, session, payload))


def _process_locked(runtime: Runtime, session: Session, payload: dict[str, Any]) -> RetryLater | None:
    """A contact's pending messages, each turn with the conversation locked (FOR UPDATE on
    PostgreSQL; SQLite's BEGIN IMMEDIATE serializes writers): the path for whatever the look
    left (a ticket, STOP, a multipart SMS, a conversation that moved on). A turn that fails is
    retried, then handed to a person (`gateway.work.handlers.unprocessable`)."""
    contact_id = int(payload["contact_id"])
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
                flush_waiting_notifications(session, [contact_id])
                return RetryLater(f"turn failed: {unprocessable.describe(exc)}", backoff_delay(attempts))
            with session.begin_nested():
                unprocessable.hand_to_person(
                    runtime, session, conv, contact, group, unprocessable.describe(exc)
                )
    flush_waiting_notifications(session, [contact_id])
    if wait_for_segments is not None:
        return RetryLater("waiting for the rest of a multipart SMS", wait_for_segments / 4, counts=False)
    return None


class ConversationTimeout(Handler):
    """A reminder or an expiry the conversation scheduled: one engine step with the
    conversation locked, in the transaction that ends the job; a stale one does nothing."""

    def end(self, runtime: Runtime, session: Session, done: list[tuple[Any, Any]]) -> list[Result]:
        items: list[tuple[dict[str, Any], Any]] = [state for state, _outcome in done]
        return _each(session, items, set(), lambda payload: _time_out(runtime, session, payload))


def _time_out(runtime: Runtime, session: Session, payload: dict[str, Any]) -> None:
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
    turn = Turn(
        contact.id,
        list(result.effects),
        channel,
        address,
        key,
        new_state.language,
        source,
        told_dispatch=ctx.dispatch_to is not None,
    )
    apply_effects(runtime, session, [turn])


@dataclass(frozen=True)
class Turn:
    """One engine step's effects and where they go.

    ``key`` names the step in the dedupe keys of its replies (``m<message id>``, or the timeout
    that fired), so a step written twice sends each reply once. ``source`` is the message it
    answered (a `Message` or a plain row of its columns), None for a timeout.
    ``told_dispatch``: its confirmation of a filed ticket already named the agency it goes to
    at once, so no separate notice follows it."""

    contact_id: int
    effects: list[Any]
    channel: str
    address: str
    key: str
    language: str
    source: Any = None
    told_dispatch: bool = False


def apply_effects(runtime: Runtime, session: Session, turns: list[Turn]) -> None:
    """Carry out the engine's effects of one or more turns, in order, inside the caller's
    transaction: the one writer of a turn's effects, for the turns worked out ahead and for
    the locked path alike.

    Replies and timeouts are gathered and written with one statement each (a batch of turns
    costs the same few statements as one); anything else (a ticket, STOP, a language...) writes
    what was gathered first, so the rows keep the order of the effects."""
    replies: list[OutboundRow] = []
    timeouts: list[JobSpec] = []

    def write_gathered() -> None:
        queue_message_ids(session, replies)
        record_jobs(session, timeouts)
        replies.clear()
        timeouts.clear()

    for turn in turns:
        for index, effect in enumerate(turn.effects):
            if isinstance(effect, Reply):
                replies.append(_reply_row(effect, f"reply:{turn.key}:{index}", turn))
            elif isinstance(effect, ScheduleTimeout):
                timeouts.append(_timeout_job(turn.contact_id, effect))
            else:
                write_gathered()
                _apply_other(runtime, session, turn, index, effect)
    write_gathered()


def _apply_other(runtime: Runtime, session: Session, turn: Turn, index: int, effect: Any) -> None:
    """An effect that changes more than the outbox (rare: a few per complaint); ``index`` is
    its place among the turn's effects, for the dedupe keys of what it sends."""
    from gateway.tickets import service as tickets

    contact = session.get(Contact, turn.contact_id)
    assert contact is not None
    if isinstance(effect, CreateTicket):
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
            privacy_chosen=effect.privacy_chosen,
            channel=turn.channel,
            address=turn.address,
            language=effect.language,
            source="message",
            attachments=[a.__dict__ for a in effect.attachments],
            message_ids=_own_message_rows(session, contact.id, effect.message_ids),
            notify_dispatch=not turn.told_dispatch,
            deadlines=effect.deadlines,
        )
        _link_messages(session, contact.id, ticket.id)
    elif isinstance(effect, AppendToTicket):
        # Only the citizen's own ticket: whatever the state names, a follow-up never
        # lands in another citizen's thread.
        own = session.scalar(
            select(Ticket).where(Ticket.tracking == effect.tracking, Ticket.contact_id == contact.id)
        )
        row = _source_message(session, turn)
        if own is not None and row is not None:
            row.ticket_id = own.id
            tickets.add_citizen_message(session, runtime, own, row)
    elif isinstance(effect, SetOptOut):
        contact.opted_out = effect.opted_out
    elif isinstance(effect, SetLanguage):
        contact.language = effect.language
    elif isinstance(effect, DraftExpired):
        session.add(IncompleteDraft(contact_id=contact.id, channel=turn.channel, data=dict(effect.draft)))
    elif isinstance(effect, RateTicket | CommentRating | JoinTicket | FollowTicket):
        from gateway.tickets import voice

        voice.apply(
            runtime,
            session,
            contact,
            effect,
            turn.channel,
            turn.address,
            turn.language,
            _source_message(session, turn),
            f"{turn.key}:{index}",
        )
    elif isinstance(effect, FlagEmergency):
        flagged = session.scalar(select(Ticket).where(Ticket.tracking == effect.tracking))
        if flagged is not None:
            from gateway.tickets import emergency

            emergency.flag(flagged, effect.kind)


def _source_message(session: Session, turn: Turn) -> Message | None:
    """The message the turn answered as an ORM row (the look-ahead hands a plain row of its
    columns), for effects that link it to a ticket; None for a timeout."""
    source = turn.source
    if source is None or isinstance(source, Message):
        return source
    return session.get(Message, source.id)


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


def flush_waiting_notifications(session: Session, contact_ids: list[int]) -> None:
    """Updates held back by a closed WhatsApp window go out now that the citizen wrote."""
    waiting_for = list(session.scalars(_ANY_WAITING, {"cids": contact_ids})) if contact_ids else []
    if not waiting_for:
        return  # nearly always: one indexed lookup, no ORM load
    waiting = session.scalars(
        select(Message).where(
            Message.contact_id.in_(waiting_for),
            Message.direction == "out",
            Message.delivery_status == "waiting",
        )
    ).all()
    for row in waiting:
        row.delivery_status = "pending"
    record_jobs(
        session,
        [
            JobSpec("send_message", {"message_id": row.id}, f"send:{row.id}:retry{row.attempts}")
            for row in waiting
        ],
    )
