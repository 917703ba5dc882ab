"""Satisfaction after resolution (CSAT): asking once, recording the answer, and the figures.

The rules (which digits rate, what is low, the question's wording) are
conversations/satisfaction.py; this module stores and sends. The question goes right
after the "resolved" update the citizen actually got (`gateway.tickets.citizen_updates` calls
`ask`), never for a ticket archived as a duplicate, once per ticket (a unique row), and
stays open until the end of the reopen window, while the ticket is still resolved (a
reopen closes it). The engine learns which questions are open through
`open_questions` (``TicketInfo.rating_asked_at``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from conversations.satisfaction import SCORES, is_low, question
from conversations.workdays import local_date
from gateway.messages.outgoing import queue_message
from gateway.store.models import Agency, Message, Ticket, TicketEvent, TicketRating, utcnow
from gateway.tickets import ombudsman, policy
from gateway.tickets.citizen_updates import max_length

if TYPE_CHECKING:
    from gateway.runtime import Runtime


def archived_as_duplicate(ticket: Ticket) -> bool:
    """Whether the ticket was ever archived as a duplicate (its reporter supports another one)."""
    return any(e.action == lc.ARCHIVE and (e.data or {}).get("reason") == "duplicate" for e in ticket.events)


def _referred(runtime: Runtime, ticket: Ticket) -> bool:
    """Resolved by a referral to a body outside regional authority (PLN, BPN...): nobody here
    handled it, so there is nothing of ours to rate."""
    config = runtime.catalog.agency(ticket.agency.code) if ticket.agency is not None else None
    return bool(config is not None and config.external)


def _window_end(runtime: Runtime, ticket: Ticket) -> datetime:
    """The end of the reopen window's last local day, in UTC (`service.reply_window_open`'s window)."""
    zone = policy.timezone(runtime)
    start = local_date(ticket.resolved_at or utcnow(), zone)
    window = int(policy.deadlines(runtime, ticket.category).get("reopen_window", 10))
    last = policy.calendar(runtime).add_working_days(start, window) if window > 0 else start
    return datetime.combine(last + timedelta(days=1), time(), tzinfo=ZoneInfo(zone))


def ask(session: Session, runtime: Runtime, ticket: Ticket) -> Message | None:
    """Ask the reporter to rate the handling of their just-resolved ticket; None when it must not be asked."""
    if ticket.status != lc.RESOLVED or not ticket.channel or not ticket.address or ticket.contact_id is None:
        return None
    if archived_as_duplicate(ticket) or _referred(runtime, ticket):
        return None
    if session.scalar(select(TicketRating.id).where(TicketRating.ticket_id == ticket.id)) is not None:
        return None  # asked once, ever
    session.add(
        TicketRating(
            ticket_id=ticket.id,
            contact_id=ticket.contact_id,
            agency_id=ticket.agency_id,
            category=ticket.category,
            channel=ticket.channel,
            asked_at=utcnow(),
            expires_at=_window_end(runtime, ticket),
        )
    )
    adapter = runtime.adapter(ticket.channel)
    style = adapter.menu_style if adapter is not None else "numbered"
    text, buttons = question(
        runtime.config, ticket.tracking, ticket.language, max_length(runtime, ticket.channel), style
    )
    return queue_message(
        session,
        channel=ticket.channel,
        address=ticket.address,
        text=text,
        contact_id=ticket.contact_id,
        dedupe_key=f"rating:{ticket.id}",
        ticket_id=ticket.id,
        author="system",
        buttons=[{"payload": b.payload, "title": b.title, "description": b.description} for b in buttons],
        purpose="notification",
        language=ticket.language,
    )


def open_questions(session: Session, ticket_ids: Iterable[int]) -> dict[int, datetime]:
    """When each of these tickets' rating question was asked, for those still open."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(TicketRating.ticket_id, TicketRating.asked_at)
        .join(Ticket, Ticket.id == TicketRating.ticket_id)
        .where(
            TicketRating.ticket_id.in_(ids),
            TicketRating.score.is_(None),
            TicketRating.expires_at > utcnow(),
            Ticket.status == lc.RESOLVED,
            Ticket.closed_at.is_(None),
        )
    )
    return {int(ticket_id): asked_at for ticket_id, asked_at in rows}


def _own_ticket(session: Session, contact_id: int, tracking: str) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.tracking == tracking, Ticket.contact_id == contact_id))


def _event(ticket: Ticket, action: str, data: dict[str, Any], note: str | None = None) -> TicketEvent:
    return TicketEvent(
        ticket=ticket,
        action=action,
        from_status=ticket.status,
        to_status=ticket.status,
        actor_type="citizen",
        actor_id=ticket.contact_id,
        actor_label="Warga",
        note=note,
        internal=True,
        data=data,
        created_at=utcnow(),
    )


def record_rating(
    session: Session, runtime: Runtime, contact_id: int, tracking: str, score: int, source: Message | None
) -> TicketRating | None:
    """Store the citizen's score on their own ticket's open question; a low one earns the Ombudsman notice.

    The message that carried it joins the ticket's thread without reopening the ticket.
    """
    ticket = _own_ticket(session, contact_id, tracking)
    if ticket is None or score not in SCORES:
        return None
    rating = session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket.id).with_for_update())
    if rating is None or rating.score is not None or ticket.id not in open_questions(session, [ticket.id]):
        return None
    rating.score, rating.rated_at = score, utcnow()
    session.add(_event(ticket, "rating", {"score": score}))
    if source is not None:
        source.ticket_id = ticket.id
    if is_low(score):
        ticket.has_unread = True
        ombudsman.tell(session, runtime, ticket, "rating")
    return rating


def record_comment(
    session: Session, contact_id: int, tracking: str, text: str, source: Message | None
) -> TicketRating | None:
    """Keep the comment of a rating just given; with a low score the coordinator is offered a reopen."""
    ticket = _own_ticket(session, contact_id, tracking)
    if ticket is None:
        return None
    rating = session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket.id))
    if rating is None or rating.score is None or rating.comment:
        return None
    rating.comment = text.strip()
    rating.reopen_offered = is_low(rating.score) and ticket.status == lc.RESOLVED
    session.add(_event(ticket, "rating_comment", {"score": rating.score}, note=rating.comment))
    ticket.has_unread = True
    ticket.last_activity_at = utcnow()
    if source is not None:
        source.ticket_id = ticket.id
    return rating


def rating_of(session: Session, ticket: Ticket) -> TicketRating | None:
    return session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket.id))


def settle_offer(session: Session, ticket: Ticket) -> None:
    """The coordinator acted on the ticket (reopened it, or dismissed the offer): no more offer."""
    rating = rating_of(session, ticket)
    if rating is not None and rating.reopen_offered:
        rating.reopen_offered = False


# --------------------------------------------------------------------------- figures
def _average(total: float, count: int) -> float | None:
    return round(total / count, 2) if count else None


def figures(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None,
    agency_id: int | None,
    scope: Any,
    agency_column: Any,
    category_names: Mapping[str, str],
    timezone: str,
    months: list[str],
) -> dict[str, Any]:
    """Average and count of the ratings of the tickets counted (created in the period), overall,
    per agency, per category and per month of rating. Comments are never part of it.

    An agency counts under ``agency_column`` (the reader's attribution, as every other figure);
    a rating's category is the one the ticket had when it was resolved.
    """
    query = (
        select(
            agency_column.label("agency"), TicketRating.category, TicketRating.score, TicketRating.rated_at
        )
        .join(Ticket, Ticket.id == TicketRating.ticket_id)
        .where(TicketRating.score.is_not(None))
    )
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    if until is not None:
        query = query.where(Ticket.created_at < until)
    if agency_id is not None:
        query = query.where(Ticket.agency_id == agency_id)
    if scope is not None:
        query = query.where(scope)
    rows = session.execute(query).all()
    agencies = {a.id: (a.code, a.name) for a in session.scalars(select(Agency))}
    by_agency: dict[Any, list[int]] = {}
    by_category: dict[Any, list[int]] = {}
    by_month: dict[str, list[int]] = {m: [] for m in months}
    for agency, category, score, rated_at in rows:
        by_agency.setdefault(agency, []).append(int(score))
        by_category.setdefault(category, []).append(int(score))
        if rated_at is not None:
            key = local_date(rated_at, timezone).strftime("%Y-%m")
            if key in by_month:
                by_month[key].append(int(score))

    def row(code: Any, name: Any, scores: list[int]) -> dict[str, Any]:
        return {
            "code": code,
            "name": name,
            "count": len(scores),
            "average": _average(sum(scores), len(scores)),
        }

    agency_rows = []
    for key, scores in by_agency.items():
        code, name = agencies.get(key, (None, None))
        agency_rows.append(row(code, name, scores))
    category_rows = [row(key, category_names.get(key or "", key), s) for key, s in by_category.items()]
    for rows_ in (agency_rows, category_rows):
        rows_.sort(key=lambda r: (-r["count"], r["code"] or ""))
    scores = [int(score) for _a, _c, score, _r in rows]
    return {
        "count": len(scores),
        "average": _average(sum(scores), len(scores)),
        "distribution": {str(s): scores.count(s) for s in SCORES},
        "agencies": agency_rows,
        "categories": category_rows,
        "trend": [
            {"month": m, "count": len(by_month[m]), "average": _average(sum(by_month[m]), len(by_month[m]))}
            for m in months
        ],
    }


def reopen_offers(session: Session, ticket_ids: Iterable[int]) -> set[int]:
    """Which of these tickets carry a coordinator's reopen offer (a low rating with a comment)."""
    ids = list(ticket_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(TicketRating.ticket_id).where(
                TicketRating.ticket_id.in_(ids), TicketRating.reopen_offered.is_(True)
            )
        )
    )


def count_offers(session: Session) -> int:
    return int(
        session.scalar(select(func.count(TicketRating.id)).where(TicketRating.reopen_offered.is_(True))) or 0
    )
