"""What SMS costs the city: segments sent per channel and month, and an optional monthly cap.

A city pays its aggregator (or Twilio) per SMS segment, so the count is of segments, not
messages: a 200-character reply is two. Only what went out counts (``sent_at`` set), on
the channels that bill per segment (an address ``tel:...``: the 1708 aggregator and Twilio
SMS). Months are calendar months in UTC, as the providers' invoices are.

``SMS_MONTHLY_SEGMENT_CAP`` (unset: no cap) limits the segments a month may spend on what
the city chooses to send: operators' answers and ticket notifications. At 80 % the admins
are told (an audit entry they see on the dashboard, and a WARNING log line); at 100 % such
a message goes out on another channel of the citizen (Telegram, WhatsApp) when there is one,
else it is ``held`` with error code ``budget`` in the inbox until the month rolls over or the
cap is raised (`release_held`, every minute). A reply inside a dialogue the citizen started
is never held: cutting off a citizen in the middle of filing a complaint costs more than the
SMS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from adapters.sms.segments import split_segments
from gateway.store.models import AuditEntry, ContactAddress, Message, utcnow
from gateway.work.outbox import record_job

log = logging.getLogger(__name__)

CAP_SETTING = "SMS_MONTHLY_SEGMENT_CAP"
#: The share of the cap at which the admins are told.
ALERT_SHARE = 0.8
HELD = "held"
HELD_CODE = "budget"
HELD_REASON = (
    "held: budget (the month's SMS segment cap is reached; sent when the month rolls over "
    "or the cap is raised)"
)
ALERT_ACTION = "sms_budget.alert"
EXHAUSTED_ACTION = "sms_budget.exhausted"
RELEASE_INTERVAL = 60.0

Plan = tuple[str, str, Any]  # channel, address, template (see gateway.work.handlers.send._plan)


#: Channels that send SMS: the aggregator always, Twilio to a phone number (``tel:``).
SMS_CHANNELS = ("sms", "twilio")


def billed_per_segment(channel: str, address: str) -> bool:
    """Whether a message on ``channel`` to ``address`` is billed per SMS segment (WhatsApp to a
    ``tel:`` number is not: Meta bills per conversation)."""
    return channel in SMS_CHANNELS and address.startswith("tel:")


def month_of(moment: datetime | None = None) -> str:
    """``YYYY-MM`` of ``moment`` (now by default), the month a segment is billed in."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first instant of ``month`` and of the month after, in UTC (naive, as the database stores)."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1)
    end = datetime(year + (number == 12), number % 12 + 1, 1)
    return start, end


def segments_of(runtime: Any, channel: str, text: str) -> int:
    """Segments ``text`` is billed as on ``channel``: the adapter's own plan when it cuts texts
    (the aggregator's SMS_MAX_SEGMENTS), else the network's split."""
    adapter = runtime.adapter(channel) if runtime is not None else None
    plan = getattr(adapter, "plan", None)
    parts = plan(text).parts if callable(plan) else split_segments(text).parts
    return max(1, len(parts))


def usage(runtime: Any, session: Session, month: str | None = None) -> dict[str, int]:
    """Segments sent per channel in ``month`` (the current one by default)."""
    start, end = month_bounds(month or month_of())
    counts: dict[str, int] = {}
    rows = session.execute(
        select(Message.channel, Message.text).where(
            Message.direction == "out",
            Message.channel.in_(SMS_CHANNELS),
            Message.address.like("tel:%"),
            Message.sent_at >= start,
            Message.sent_at < end,
        )
    )
    for channel, text in rows:
        counts[channel] = counts.get(channel, 0) + segments_of(runtime, channel, text or "")
    return counts


def monthly_cap(runtime: Any) -> int | None:
    """``SMS_MONTHLY_SEGMENT_CAP`` as a number; None when unset, empty or not a positive number."""
    given = str(runtime.settings.get(CAP_SETTING) or "").strip()
    try:
        cap = int(given)
    except ValueError:
        return None
    return cap if cap > 0 else None


@dataclass(frozen=True)
class Budget:
    """The month's spending against the cap, for the dashboard, metrics and alerts."""

    month: str
    by_channel: dict[str, int]
    cap: int | None
    held: int

    @property
    def used(self) -> int:
        return sum(self.by_channel.values())

    @property
    def share(self) -> float | None:
        return None if not self.cap else self.used / self.cap

    @property
    def alert(self) -> bool:
        return self.share is not None and self.share >= ALERT_SHARE

    @property
    def exhausted(self) -> bool:
        return self.share is not None and self.share >= 1


def budget(runtime: Any, session: Session, month: str | None = None) -> Budget:
    month = month or month_of()
    held = session.scalar(
        select(func.count(Message.id)).where(Message.direction == "out", Message.delivery_status == HELD)
    )
    return Budget(month, usage(runtime, session, month), monthly_cap(runtime), int(held or 0))


def recent_months(count: int = 3) -> list[str]:
    """The current month and the ``count - 1`` before it, newest first."""
    months: list[str] = []
    moment = datetime.now(UTC)
    for _ in range(count):
        months.append(month_of(moment))
        moment = moment.replace(day=1) - timedelta(days=1)
    return months


def holdable(message: Any) -> bool:
    """What the cap may hold: an operator's answer or a notification, never a dialogue reply."""
    purpose = (message.payload or {}).get("purpose", "reply")
    return message.author == "operator" or purpose == "notification"


def check(
    runtime: Any,
    session: Session,
    message: Any,
    plan: Plan,
    plan_for: Callable[[Any, Session, Any], Plan | None],
) -> Plan | str:
    """The send's plan, or another channel of the citizen, or `HELD`, under the monthly cap.

    Called by the send job's plan step (`gateway.work.handlers.send`) with the message row and the
    plan it made; ``plan_for`` is that same planner, asked again for each of the citizen's
    other addresses so that WhatsApp's window and template rules are applied in one place.
    """
    channel, address, _template = plan
    if not billed_per_segment(channel, address) or not holdable(message):
        return plan
    cap = monthly_cap(runtime)
    if cap is None or sum(usage(runtime, session).values()) < cap:
        return plan
    if message.contact_id is not None:
        others = session.execute(
            select(ContactAddress.address, ContactAddress.channel, ContactAddress.last_inbound_at)
            .where(
                ContactAddress.contact_id == message.contact_id,
                ContactAddress.address.not_like("tel:%"),
                ContactAddress.unreachable.is_(False),
            )
            .order_by(ContactAddress.last_inbound_at.desc())
        ).all()
        for other in others:
            if runtime.adapter(other.channel) is None:
                continue
            candidate = _Row(message, other.address, other.channel, other.last_inbound_at)
            alternative = plan_for(runtime, session, candidate)
            if alternative is not None and not billed_per_segment(alternative[0], alternative[1]):
                return alternative
    return HELD


class _Row:
    """``message`` as if it were addressed to another of the citizen's addresses."""

    def __init__(self, message: Any, address: str, channel: str, last_inbound_at: datetime | None) -> None:
        self._message = message
        self.address = address
        self.channel = channel
        self.last_inbound_at = last_inbound_at
        self.contact_id = None  # no further fallback from here: that is where SMS would come back

    def __getattr__(self, name: str) -> Any:
        return getattr(self._message, name)


def _alerted(session: Session, action: str, month: str) -> bool:
    return (
        session.execute(
            select(AuditEntry.id)
            .where(AuditEntry.action == action, AuditEntry.detail.startswith(month + ":"))
            .limit(1)
        ).first()
        is not None
    )


def alert_admins(runtime: Any, session: Session, state: Budget) -> None:
    """Tell the admins once a month at 80 % and once at 100 %: an audit entry (shown on the
    dashboard and in the audit log) and a WARNING line for the log collector."""
    for reached, action, share in (
        (state.alert, ALERT_ACTION, ALERT_SHARE),
        (state.exhausted, EXHAUSTED_ACTION, 1.0),
    ):
        if not reached or _alerted(session, action, state.month):
            continue
        detail = f"{state.month}: {state.used} of {state.cap} SMS segments used (≥ {int(share * 100)} %)"
        session.add(AuditEntry(actor_label="system", action=action, detail=detail))
        log.warning(
            "SMS budget reached %d%% of the monthly cap",
            int(share * 100),
            extra={"month": state.month, "used": state.used, "cap": state.cap},
        )


def release_held(runtime: Any, session: Session) -> int:
    """Send the held messages again when the cap allows (a new month, a raised or removed cap);
    each send checks the cap again, so a release never spends past it. Returns how many."""
    state = budget(runtime, session)
    alert_admins(runtime, session, state)
    if not state.held or state.exhausted:
        return 0
    ids = session.scalars(
        select(Message.id).where(Message.direction == "out", Message.delivery_status == HELD)
    ).all()
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    released = 0
    for message_id in ids:
        moved = session.execute(
            update(Message)
            .where(Message.id == message_id, Message.delivery_status == HELD)
            .values(delivery_status="pending", failure_reason=None, error_code=None)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).first()
        if moved:
            record_job(
                session,
                "send_message",
                {"message_id": message_id},
                dedupe_key=f"send:{message_id}:unheld:{stamp}",
            )
            released += 1
    if released:
        log.info("held SMS released", extra={"released": released, "month": state.month})
    return released


def release_held_task(runtime: Any) -> None:
    with runtime.db.session() as session:
        release_held(runtime, session)
