"""The send job: hand one stored outbound message to its channel's adapter.

Idempotent: only a message still ``pending`` is sent. Its life around the provider call:

* ``sending``: claimed (a conditional UPDATE, committed), the call not started yet;
* ``calling``: written right before the call (`SendMessage.start`, one statement for
  all the sends whose calls start together), so the call may have reached the provider;
* then ``queued``/``sent`` with the provider's id, or back to ``pending`` for a retry, or
  ``failed``.

A message found ``sending`` or ``calling`` while no send job of it is running means a worker
died. ``sending`` was never attempted: it is simply sent. ``calling`` is ambiguous (the
provider may have delivered it): where the channel's adapter can ask the provider
(``can_find_sent``: Twilio) the gateway asks it and records the message as sent if found, or
sends it if not; otherwise the channel's policy decides (``LAPOR_AMBIGUOUS_SENDS`` and
``LAPOR_AMBIGUOUS_SENDS_<CHANNEL>``: ``hold``, the default, marks it failed with code
``interrupted`` where operators see it and can resend; ``resend`` sends it again, accepting a
possible duplicate). See docs/operations.md ("A worker killed while sending").

Retryable failures (5xx, timeouts, 429) back off with jitter; a provider's
``Retry-After`` is honoured (never retried sooner). After
``LAPOR_SEND_MAX_ATTEMPTS`` attempts (default 6) the message is marked failed.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from adapters.base import Button, ChannelAdapter, OutboundMessage, SendError, SendResult, Template
from gateway.attachments.outgoing import media_url
from gateway.messages.ingest import apply_status_to_message
from gateway.messages.sms_budget import HELD_CODE, HELD_REASON
from gateway.messages.sms_budget import check as check_sms_budget
from gateway.ops.metrics import record_send
from gateway.runtime import Runtime
from gateway.store.models import Contact, ContactAddress, DeliveryReceipt, Job, Message, Ticket, utcnow
from gateway.web.webform.delivery import NO_ADDRESS_REASON, carrier, shown_on_page
from gateway.work import RetryLater
from gateway.work.attempts import backoff_delay
from gateway.work.registry import GiveUp, Handler, Result

log = logging.getLogger(__name__)

WHATSAPP_WINDOW = timedelta(hours=24)
MAX_SEND_ATTEMPTS = 6
"""Provider calls per message before it is marked failed (``LAPOR_SEND_MAX_ATTEMPTS`` overrides)."""
INTERRUPTED = "interrupted"
CLAIMED = "sending"
"""Claimed by a send job, its provider call not started: never attempted, safe to send again."""
CALLING = "calling"
"""Its provider call is about to start or running: the provider may have the message."""
AMBIGUOUS_POLICIES = ("hold", "resend")
# How far before the recorded start of a call the provider's list is searched (clock skew).
FIND_SENT_SLACK = timedelta(minutes=2)


def ambiguous_policy(runtime: Runtime, channel: str) -> str:
    """What to do with a send cut off during its call when the provider cannot be asked:
    ``LAPOR_AMBIGUOUS_SENDS_<CHANNEL>``, else ``LAPOR_AMBIGUOUS_SENDS``, else ``hold``."""
    for name in (f"LAPOR_AMBIGUOUS_SENDS_{channel.upper()}", "LAPOR_AMBIGUOUS_SENDS"):
        value = (runtime.settings.get(name) or "").strip().lower()
        if value in AMBIGUOUS_POLICIES:
            return value
        if value:
            log.warning("unknown ambiguous-send policy; using hold", extra={"setting": name})
            return "hold"
    return "hold"


def _pause_before_call(runtime: Runtime) -> None:
    """Test-only: wait ``LAPOR_TEST_PAUSE_BEFORE_CALL`` seconds between the claim and the call,
    so that the fault tests can kill a worker exactly there. Honoured only with
    ``LAPOR_TESTING=1``; never set either in production."""
    settings = runtime.settings
    pause = settings.get("LAPOR_TEST_PAUSE_BEFORE_CALL")
    if pause and (settings.testing or settings.get("LAPOR_TESTING") == "1"):
        time.sleep(float(pause))


def max_send_attempts(runtime: Runtime) -> int:
    try:
        return max(1, int(runtime.settings.get("LAPOR_SEND_MAX_ATTEMPTS") or MAX_SEND_ATTEMPTS))
    except ValueError:
        return MAX_SEND_ATTEMPTS


def retry_delay(retry_after: float | None, attempt: int) -> float:
    """Seconds before the next attempt: the provider's Retry-After plus a little jitter, never less,
    so that many messages throttled together do not come back in the same instant."""
    if retry_after is not None:
        return retry_after + random.uniform(0, min(5.0, 0.2 * retry_after + 0.1))
    return backoff_delay(attempt)


def _fail(runtime: Runtime, message_id: int, reason: str, code: str | None = None) -> None:
    with runtime.db.session() as session:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(delivery_status="failed", failure_reason=reason, error_code=code, status_at=utcnow())
        )


def _release(runtime: Runtime, message_id: int, status: str = "pending", reason: str | None = None) -> None:
    with runtime.db.session() as session:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(delivery_status=status, failure_reason=reason)
        )


def _window_open(last_inbound_at: datetime | None) -> bool:
    return last_inbound_at is not None and utcnow() - last_inbound_at < WHATSAPP_WINDOW


def _plan(runtime: Runtime, session: Session, message: Any) -> tuple[str, str, Template | None] | None:
    """Channel, address and template for ``message`` (a row of `_READ`); None when it must wait
    for the citizen.

    A notification on WhatsApp outside the 24-hour window goes as the approved
    template when one is configured, else by SMS when the contact has a phone
    number, else it waits for the citizen's next message.
    """
    purpose = (message.payload or {}).get("purpose", "reply")
    channel = carrier(runtime, message.channel, message.address)  # a web citizen's: SMS or WhatsApp
    is_whatsapp = message.address.startswith("whatsapp:")
    if not is_whatsapp or purpose != "notification" or _window_open(message.last_inbound_at):
        return channel, message.address, None
    env = runtime.settings
    template_name = (
        env.get("WHATSAPP_TEMPLATE_NAME")
        if channel == "whatsapp"
        else env.get("TWILIO_WHATSAPP_TEMPLATE_SID")
    )
    if template_name:
        lang = env.get("WHATSAPP_TEMPLATE_LANGUAGE", message.language or "id") or "id"
        return channel, message.address, Template(template_name, lang, (message.text[:1000],))
    if message.contact_id is not None:
        phones = session.scalars(
            select(ContactAddress.address).where(
                ContactAddress.contact_id == message.contact_id, ContactAddress.address.like("tel:%")
            )
        ).all()
        for phone in phones:
            for channel in ("sms", "twilio"):
                if runtime.adapter(channel) is not None:
                    return channel, phone, None
        number = message.address.split(":", 1)[1]
        if number.startswith("+") and runtime.adapter("sms") is not None:
            return "sms", f"tel:{number}", None
    return None


_MESSAGE_COLUMNS = (
    "direction",
    "delivery_status",
    "channel",
    "address",
    "text",
    "payload",
    "attempts",
    "ticket_id",
    "author",
    "contact_id",
    "language",
    "status_at",
    "attachments",
)
_DECIDED_ON = (
    *(getattr(Message, c) for c in _MESSAGE_COLUMNS),
    Contact.opted_out,
    ContactAddress.last_inbound_at,
    ContactAddress.unreachable,
)
# Everything a batch of sends decides on, in one statement: each message, its contact's STOP
# and its address's window and reachability (contact_addresses.address is unique: one row at
# most per message), with the id to tell the rows apart.
_READ = (
    select(Message.id, *_DECIDED_ON)
    .select_from(Message)
    .outerjoin(Contact, Contact.id == Message.contact_id)
    .outerjoin(ContactAddress, ContactAddress.address == Message.address)
    .where(Message.id.in_(bindparam("ids", expanding=True)))
)
# Ids per statement of a batch, well below SQLite's and PostgreSQL's limits on bound parameters.
_IN_CHUNK = 500

_MESSAGES = Message.__table__


def _claim_statement(seen_status: str, attempts: int | None, to: str) -> Any:
    """The claim of a batch of sends (`SendMessage.begin`): each message moves to ``to`` only if
    it is still in the status it was seen in (and, for a claim recovered from a dead worker,
    which stays in its status, still at the attempts seen: of two recovering jobs only the
    first moves it on); RETURNING names the ones that moved."""
    unchanged = [
        _MESSAGES.c.id.in_(bindparam("ids", expanding=True)),
        _MESSAGES.c.delivery_status == seen_status,
    ]
    if attempts is not None:
        unchanged.append(_MESSAGES.c.attempts == attempts)
    return (
        update(_MESSAGES)
        .where(*unchanged)
        .values(delivery_status=to, attempts=_MESSAGES.c.attempts + 1)
        .returning(_MESSAGES.c.id)
    )


# Right before the calls of a batch (`SendMessage.start`): the claimed messages are marked
# as possibly at the provider, with the time the calls start (what the provider is asked about).
_MARK_CALLING = (
    update(Message)
    .where(Message.id.in_(bindparam("ids", expanding=True)), Message.delivery_status == CLAIMED)
    .values(delivery_status=CALLING, status_at=bindparam("at"))
    .execution_options(synchronize_session=False)
)
# One statement for a whole batch of sent messages (executed with a list of parameters).
_RECORD_SENT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("mid"))
    .values(
        provider_message_id=bindparam("pid"), delivery_status=bindparam("status"), sent_at=bindparam("at")
    )
)


@dataclass(frozen=True)
class _Send:
    """What the provider call needs, read and claimed in the job's first transaction."""

    message_id: int
    channel: str
    address: str
    template: Template | None
    outbound: OutboundMessage
    attempts: int  # provider calls before this one
    row_address: str
    row_channel: str
    operator_reply_ticket: int | None  # an operator's answer: the ticket's first response
    # A send cut off during its call, on a channel that can be asked: ask the provider whether it
    # has the message (sent since this time) before sending it again.
    ask_since: datetime | None = None


@dataclass(frozen=True)
class _Decision:
    """What the read-only look decided: send (``send`` set), or set the status (``status``)."""

    seen_status: str
    send: _Send | None = None
    status: str | None = None
    reason: str | None = None
    code: str | None = None


# A send job of the message that is running now (few rows: the status index finds them).
_RUNNING_SEND = (
    select(Job.id)
    .where(
        Job.kind == "send_message",
        Job.status == "running",
        Job.payload["message_id"].as_integer() == bindparam("mid"),
    )
    .limit(1)
)


def _send_in_flight(session: Session, message_id: int) -> bool:
    """Whether a send job of ``message_id`` holds its claim right now.

    A message found ``sending`` means a worker died mid-call only when no job is sending it: a
    second job of the same message (enqueued twice, a retry recorded meanwhile) that reads it
    while the first is at the provider must leave it alone, not mark it interrupted. A job
    whose worker died is reset to pending by the reconciler and then finds no running job.
    The reading job itself is still pending at its read, so it never finds itself.
    """
    return session.execute(_RUNNING_SEND, {"mid": int(message_id)}).first() is not None


def _decide(runtime: Runtime, session: Session, message_id: int, message: Any) -> _Decision | None:
    """What to do with message ``message_id``, given its row of `_READ` (None when it is gone):
    the one rule `SendMessage.read` applies to each message of a batch."""
    if message is None or message.direction != "out":
        return None
    status = message.delivery_status or ""
    if status in (CLAIMED, CALLING):
        if _send_in_flight(session, message_id):
            return None  # another job of this message is sending it now: not interrupted
        if status == CALLING:
            return _decide_ambiguous(runtime, session, message_id, message)
        # Claimed by a worker that died before calling the provider: never attempted, send it.
    elif status != "pending":
        return None  # already sent, failed, or waiting: nothing to do
    return _decide_send(runtime, session, message_id, message, status)


def _interrupted_reason(why: str) -> str:
    """What operators read on a send held after its worker died (error code ``interrupted``)."""
    return f"interrupted while sending (worker stopped); {why}"


def _interrupted(seen_status: str, why: str) -> _Decision:
    return _Decision(seen_status, status="failed", reason=_interrupted_reason(why), code=INTERRUPTED)


def _decide_ambiguous(runtime: Runtime, session: Session, message_id: int, message: Any) -> _Decision:
    """A send whose worker died during its provider call: ask the provider where it can be asked,
    else the channel's policy. Anything but a plain send again (the citizen opted out since,
    the channel is off...) holds it: it may have been delivered."""
    decision = _decide_send(runtime, session, message_id, message, CALLING)
    send = decision.send
    hold = _interrupted(CALLING, "the provider may have delivered it, so it is not resent automatically")
    if send is None:
        return hold
    adapter = runtime.adapter(send.channel)
    if adapter is not None and adapter.can_find_sent and send.template is None:
        since = (message.status_at or utcnow()) - FIND_SENT_SLACK
        return replace(decision, send=replace(send, ask_since=since))
    if ambiguous_policy(runtime, send.channel) == "resend":
        return decision
    return hold


def _decide_send(runtime: Runtime, session: Session, message_id: int, message: Any, status: str) -> _Decision:
    """The decision for a message to send now (``pending``, or a recovered claim)."""
    purpose = (message.payload or {}).get("purpose", "reply")
    if message.opted_out and purpose == "notification":
        return _Decision(status, status="failed", reason="the citizen opted out (STOP)", code="opted_out")
    if message.unreachable:  # NULL when the address has no row
        return _Decision(
            status,
            status="failed",
            reason="the citizen blocked the channel or opted out at the provider",
            code="unreachable",
        )
    page = shown_on_page(message.channel, message.address, message.author)
    if page is not None:  # a web citizen who left no number: the form's page is all they read
        if page:
            return _Decision(status, status="delivered")
        return _Decision(status, status="failed", reason=NO_ADDRESS_REASON, code="no_address")
    plan = _plan(runtime, session, message)
    if plan is None:
        return _Decision(
            status, status="waiting", reason="WhatsApp 24-hour window closed; sent at the next message"
        )
    budgeted = check_sms_budget(runtime, session, message, plan, _plan)
    if isinstance(budgeted, str):  # HELD: the month's SMS cap is spent and no other channel
        return _Decision(status, status=budgeted, reason=HELD_REASON, code=HELD_CODE)
    channel, address, template = budgeted
    if runtime.adapter(channel) is None:
        return _Decision(
            status, status="failed", reason=f"channel {channel!r} is not configured", code="channel_off"
        )
    extra = message.payload or {}
    outbound = OutboundMessage(
        channel=channel,
        to=address,
        text=message.text,
        buttons=tuple(
            Button(b["payload"], b["title"], b.get("description")) for b in extra.get("buttons", [])
        ),
        menu_title=extra.get("menu_title"),
        template=template,
        media_url=media_url(runtime.settings, channel, address, message.attachments),
        reference=f"lapor-{message_id}",
        author=message.author or "bot",
    )
    send = _Send(
        message_id,
        channel,
        address,
        template,
        outbound,
        message.attempts,
        message.address,
        message.channel,
        message.ticket_id if message.author == "operator" else None,
    )
    return _Decision(status, send=send)


class SendMessage(Handler):
    """Read and decide (no write lock); claim (one commit); mark the calls as starting; call the
    provider; record the results (one commit). Every step takes the whole batch: the sends a
    worker claims together when rq delivers one of them (`gateway.work.local_batch`), or one job."""

    def read(
        self, runtime: Runtime, session: Session, payloads: list[dict[str, Any]]
    ) -> list[_Decision | None]:
        """One SELECT for the batch (the message, its contact's STOP, its address's window and
        reachability); each message decided by `_decide`."""
        message_ids = [int(payload["message_id"]) for payload in payloads]
        rows: dict[int, Any] = {}
        unique = list(dict.fromkeys(message_ids))
        for start in range(0, len(unique), _IN_CHUNK):
            for row in session.execute(_READ, {"ids": unique[start : start + _IN_CHUNK]}):
                rows[row.id] = row
        return [_decide(runtime, session, message_id, rows.get(message_id)) for message_id in message_ids]

    def begin(
        self, runtime: Runtime, session: Session, jobs: list[tuple[dict[str, Any], _Decision | None]]
    ) -> list[_Send | None]:
        """Apply the decisions where the messages are still as they were seen. The sends are
        claimed with one conditional UPDATE per status they were seen in (nearly always
        ``pending``: one for the batch) whose RETURNING says which rows moved, so that of two
        workers (or two jobs of one message) only one starts a message. A decision to set a
        status (interrupted, opted out, waiting...) is one conditional UPDATE of its own."""
        results: list[_Send | None] = [None] * len(jobs)
        claims: dict[tuple[str, int | None, str], list[int]] = {}  # how to claim -> indexes
        for index, (payload, seen) in enumerate(jobs):
            if seen is None:
                continue
            message_id = int(payload["message_id"])
            if seen.send is None:
                _set_status(session, message_id, seen)
                continue
            recovered = seen.seen_status != "pending"
            to = CALLING if seen.send.ask_since is not None else CLAIMED
            claims.setdefault((seen.seen_status, seen.send.attempts if recovered else None, to), []).append(
                index
            )
        for (seen_status, attempts, to), indexes in claims.items():
            wanted = list(dict.fromkeys(int(jobs[i][0]["message_id"]) for i in indexes))
            statement = _claim_statement(seen_status, attempts, to)
            moved: set[int] = set()
            for start in range(0, len(wanted), _IN_CHUNK):
                moved.update(session.scalars(statement, {"ids": wanted[start : start + _IN_CHUNK]}))
            for index in indexes:
                payload, seen = jobs[index]
                message_id = int(payload["message_id"])
                if message_id in moved and seen is not None:
                    moved.discard(message_id)  # two jobs of one message: only the first starts
                    results[index] = seen.send
        return results

    def start(self, runtime: Runtime, states: list[_Send]) -> None:
        """Mark the claimed messages ``calling`` (one statement for the batch), right before
        their calls: until then a dead worker's claim means "never attempted"."""
        _pause_before_call(runtime)
        ids = [state.message_id for state in states if state.ask_since is None]
        if not ids:
            return  # a recovered send that asks the provider first is ``calling`` already
        now = utcnow()
        with runtime.db.session() as session:
            for start in range(0, len(ids), _IN_CHUNK):
                session.execute(_MARK_CALLING, {"ids": ids[start : start + _IN_CHUNK], "at": now})

    def act(self, runtime: Runtime, state: _Send) -> SendResult:
        adapter = runtime.adapter(state.channel)
        assert adapter is not None
        if state.ask_since is not None:
            found = _ask_provider(runtime, adapter, state)
            if found is not None:
                return found
        started = time.monotonic()
        try:
            result = adapter.send(state.outbound)
        except SendError as exc:
            record_send(state.channel, "retry" if exc.retryable else "refused", time.monotonic() - started)
            _handle_send_error(runtime, state, exc)
            raise  # _handle_send_error raises RetryLater or GiveUp; this is for the type checker
        record_send(state.channel, "sent", time.monotonic() - started)
        return result

    def end(self, runtime: Runtime, session: Session, done: list[tuple[_Send, SendResult]]) -> list[Result]:
        """The sends recorded with one lookup of early receipts, one batched UPDATE of the
        messages and one of their tickets' first response; the unusual ones (a fallback
        channel, a template, a receipt that came first) one by one, with their rows loaded."""
        plain = [(s, r) for s, r in done if s.channel == s.row_channel and s.template is None]
        others = [pair for pair in done if pair not in plain]
        with_id = [(s, r) for s, r in plain if r.provider_message_id]
        early: set[tuple[str, str]] = set()
        if with_id:
            early = {
                (str(channel), str(pid))
                for channel, pid in session.execute(
                    select(DeliveryReceipt.channel, DeliveryReceipt.provider_message_id).where(
                        # Both columns of ix_receipts_lookup, so the lookup uses it.
                        DeliveryReceipt.channel.in_({s.channel for s, _ in with_id}),
                        DeliveryReceipt.provider_message_id.in_([r.provider_message_id for _, r in with_id]),
                        DeliveryReceipt.applied.is_(False),
                    )
                )
            }
        simple = [(s, r) for s, r in plain if (s.channel, r.provider_message_id) not in early]
        others += [(s, r) for s, r in plain if (s.channel, r.provider_message_id) in early]
        now = utcnow()
        if simple:
            session.execute(
                _RECORD_SENT,
                [
                    {
                        "mid": state.message_id,
                        "pid": result.provider_message_id,
                        "status": _sent(result),
                        "at": now,
                    }
                    for state, result in simple
                ],
            )
            answered = [s.operator_reply_ticket for s, _ in simple if s.operator_reply_ticket is not None]
            if answered:
                session.execute(
                    update(Ticket)
                    .where(Ticket.id.in_(answered), Ticket.first_response_at.is_(None))
                    .values(first_response_at=now)
                    .execution_options(synchronize_session=False)
                )
        for state, result in others:
            _record_unusual(session, state, result)
        return [None] * len(done)


def _sent(result: SendResult) -> str:
    """The message's status once the provider took it."""
    return result.status if result.status in ("queued", "sent") else "sent"


def _set_status(session: Session, message_id: int, seen: _Decision) -> None:
    """What the look decided instead of a send, if the message is still as it was seen."""
    values: dict[str, Any] = {"delivery_status": seen.status, "failure_reason": seen.reason}
    if seen.status == "failed":
        values |= {"error_code": seen.code, "status_at": utcnow()}
    elif seen.code is not None:  # held: budget
        values["error_code"] = seen.code
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.delivery_status == seen.seen_status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if seen.code == INTERRUPTED:
        log.warning("send interrupted earlier; marked failed", extra={"message_id": message_id})


def _record_unusual(session: Session, state: _Send, result: SendResult) -> None:
    """A send recorded with its row loaded: sent by a fallback channel or as a template (kept in
    its payload), or answered by a receipt that came before the provider's answer."""
    row = session.get(Message, state.message_id)
    assert row is not None
    channel, address, template = state.channel, state.address, state.template
    row.provider_message_id = result.provider_message_id
    row.delivery_status = _sent(result)
    row.sent_at = utcnow()
    if channel != row.channel:
        row.payload = dict(row.payload or {}) | {"fallback": {"channel": channel, "address": address}}
        row.channel = channel
    if template is not None:
        row.payload = dict(row.payload or {}) | {"template": template.name}
    # Receipts that beat us here (the provider answered the status webhook first).
    for receipt in session.scalars(
        select(DeliveryReceipt)
        .where(
            DeliveryReceipt.channel == channel,
            DeliveryReceipt.provider_message_id == result.provider_message_id,
            DeliveryReceipt.applied.is_(False),
        )
        .order_by(DeliveryReceipt.id)
    ):
        apply_status_to_message(
            session, row, receipt.status, receipt.error_code, receipt.raw.get("error_message")
        )
        receipt.applied = True
    if row.ticket_id and row.author == "operator":
        ticket = session.get(Ticket, row.ticket_id)
        if ticket is not None and ticket.first_response_at is None:
            ticket.first_response_at = utcnow()


def _ask_provider(runtime: Runtime, adapter: ChannelAdapter, state: _Send) -> SendResult | None:
    """Whether the provider has the message a dead worker was sending: its result if so (the
    message is recorded as sent, not sent twice), None if not (it is sent now). The message
    stays ``calling`` meanwhile, so a worker that dies here leaves it to be asked again."""
    assert state.ask_since is not None
    try:
        found = adapter.find_sent(state.address, state.ask_since, state.outbound.text)
    except SendError as exc:
        if exc.retryable and state.attempts + 1 < max_send_attempts(runtime):
            delay = retry_delay(exc.retry_after, state.attempts + 1)
            raise RetryLater(f"cannot ask {state.channel} about an interrupted send: {exc.reason}", delay)
        why = f"the provider could not be asked whether it has the message ({exc.reason})"
        _fail(runtime, state.message_id, _interrupted_reason(why), INTERRUPTED)
        raise GiveUp(exc.reason)
    log.info(
        "interrupted send looked up at the provider",
        extra={"message_id": state.message_id, "channel": state.channel, "found": found is not None},
    )
    return found


def _handle_send_error(runtime: Runtime, message: _Send, exc: SendError) -> None:
    log.warning(
        "send failed",
        extra={
            "message_id": message.message_id,
            "channel": message.channel,
            "retryable": exc.retryable,
            "code": exc.code,
            "reason": exc.reason,
        },
    )
    if exc.window_closed:
        with runtime.db.session() as session:
            row = session.get(Message, message.message_id)
            assert row is not None
            row.payload = dict(row.payload or {}) | {"purpose": "notification"}
            row.delivery_status = "pending"
        with runtime.db.session() as session:
            addr = session.scalar(select(ContactAddress).where(ContactAddress.address == message.row_address))
            if addr is not None:
                addr.last_inbound_at = None  # the provider says the window is closed
        raise RetryLater("WhatsApp window closed; retrying with the fallback", 0.0)
    if exc.unreachable:
        with runtime.db.session() as session:
            addr = session.scalar(select(ContactAddress).where(ContactAddress.address == message.row_address))
            if addr is not None:
                addr.unreachable = True
    if exc.retryable and message.attempts + 1 < max_send_attempts(runtime):
        _release(runtime, message.message_id, "pending", exc.reason)
        raise RetryLater(exc.reason, retry_delay(exc.retry_after, message.attempts + 1), counts=False)
    _fail(runtime, message.message_id, exc.reason, exc.code)
    raise GiveUp(exc.reason)
