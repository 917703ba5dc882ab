""" "Ikut melapor": one problem, many reporters (issue 20, part 1).

When a ticket is filed its likely duplicates are looked for (`note_candidates`, the rules
in conversations/duplicates.py) and kept in ``data["duplicates"]``; the coordinator sees
them with a score and merges with one click (`merge`). The duplicate is archived as
such without the usual "archived" notice: its reporter becomes a supporter of the
original instead and is told so. A citizen can also join a verified public ticket with
``IKUT <nomor>`` / ``JOIN <number>`` (`join`), a few times a day at most.

Supporters keep their own privacy choice, channel and language; every status update of
the original reaches them there (`tell_supporters`, called by gateway.tickets.citizen_updates).
The number of supporters is kept in ``data["supporters"]`` too, in the same transaction
as the rows, so the inbox can order by it (`popular_first`) and the public page can count
reporters without a query per ticket.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from conversations import texts
from conversations.duplicates import Candidate, Place, Settings, rank
from gateway.messages.outgoing import queue_message
from gateway.store.models import Contact, Message, Ticket, TicketEvent, TicketSupporter, utcnow
from gateway.tickets.citizen_updates import Recipient, max_length, opted_out, queue_status_update

if TYPE_CHECKING:
    from gateway.runtime import Runtime
    from gateway.tickets.service import Actor

COUNT_KEY = "supporters"
#: `TicketSupporter.role`: who reported the problem too, and who only hears its updates.
SUPPORTER = "supporter"
FOLLOWER = "follower"
DUPLICATES_KEY = "duplicates"
#: Tickets of the category looked at for duplicates, newest first.
SCAN_LIMIT = 300


def _config(runtime: Runtime) -> dict[str, Any]:
    data = runtime.config.data.get("supporters.yaml") or {}
    return data if isinstance(data, dict) else {}


def duplicate_settings(runtime: Runtime) -> Settings:
    found = _config(runtime).get("duplicates") or {}
    base = Settings()
    return Settings(
        days=int(found.get("days", base.days)),
        distance_meters=float(found.get("distance_meters", base.distance_meters)),
        min_similarity=float(found.get("min_similarity", base.min_similarity)),
        max_candidates=int(found.get("max_candidates", base.max_candidates)),
    )


def rise_threshold(runtime: Runtime) -> int:
    return int(_config(runtime).get("rise_threshold", 3))


def join_per_day(runtime: Runtime) -> int:
    return int(_config(runtime).get("join_per_day", 5))


# --------------------------------------------------------------------------- duplicates
def _place(ticket: Ticket) -> Place:
    area = (ticket.data or {}).get("area") or {}
    return Place(area.get("kelurahan_code") or None, ticket.latitude, ticket.longitude)


def note_candidates(session: Session, runtime: Runtime, ticket: Ticket) -> list[dict[str, Any]]:
    """Find the likely duplicates of a ticket just filed and keep them in ``data["duplicates"]``.

    A ticket without a category, or whose place is unknown (no kelurahan matched, no pin), has
    none: "the same place" is required. Only the columns the scoring needs are read.
    """
    place = _place(ticket)
    if not ticket.category or not (place.kelurahan or place.has_pin):
        return []
    settings = duplicate_settings(runtime)
    since = utcnow() - timedelta(days=settings.days)
    earlier = session.execute(
        select(Ticket.tracking, Ticket.description, Ticket.latitude, Ticket.longitude, Ticket.data)
        .where(
            Ticket.category == ticket.category,
            Ticket.created_at >= since,
            Ticket.id != ticket.id,
            Ticket.status != lc.ARCHIVED,
        )
        .order_by(Ticket.id.desc())
        .limit(SCAN_LIMIT)
    ).all()
    pool = [
        Candidate(
            row.tracking,
            row.description or "",
            Place(
                ((row.data or {}).get("area") or {}).get("kelurahan_code") or None,
                row.latitude,
                row.longitude,
            ),
        )
        for row in earlier
    ]
    found = [
        {"tracking": key, "score": score}
        for key, score in rank(runtime.config, ticket.description or "", place, pool, settings)
    ]
    if found:
        ticket.data = {**(ticket.data or {}), DUPLICATES_KEY: found}
    return found


def candidates_for(session: Session, runtime: Runtime, ticket: Ticket) -> list[dict[str, Any]]:
    """The ticket's likely duplicates still worth merging into, for the coordinator, best first."""
    if ticket.status == lc.ARCHIVED:
        return []
    noted = (ticket.data or {}).get(DUPLICATES_KEY) or []
    scores = {str(n.get("tracking")): float(n.get("score") or 0) for n in noted if isinstance(n, dict)}
    if not scores:
        return []
    rows = session.scalars(
        select(Ticket).where(Ticket.tracking.in_(list(scores)), Ticket.status != lc.ARCHIVED)
    )
    out: list[dict[str, Any]] = [
        {
            "tracking": t.tracking,
            "score": scores[t.tracking],
            "status": t.status,
            "summary": texts.truncate((t.description or "").replace("\n", " "), 90),
        }
        for t in rows
    ]
    out.sort(key=lambda c: (-float(c["score"]), str(c["tracking"])))
    return out


# --------------------------------------------------------------------------- supporters
def count(session: Session, ticket_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(TicketSupporter.id)).where(
                TicketSupporter.ticket_id == ticket_id, TicketSupporter.role == SUPPORTER
            )
        )
        or 0
    )


def reporters(ticket: Ticket) -> int:
    """How many people reported the problem: the reporter and the supporters."""
    return 1 + int((ticket.data or {}).get(COUNT_KEY) or 0)


def _recount(session: Session, ticket: Ticket) -> int:
    session.flush()
    total = count(session, ticket.id)
    ticket.data = {**(ticket.data or {}), COUNT_KEY: total}
    return total


def _add(
    session: Session,
    ticket: Ticket,
    *,
    contact_id: int | None,
    channel: str | None,
    address: str | None,
    language: str | None,
    privacy: str,
    source: str,
    merged_from: int | None = None,
    role: str = SUPPORTER,
) -> TicketSupporter | None:
    """A supporter (or follower) row, unless the citizen is the reporter or already has one.

    A follower who then reports the problem too (IKUT, a merge) becomes a supporter: the row
    is returned as new, so that the caller counts them."""
    if contact_id is not None and contact_id == ticket.contact_id:
        return None
    if contact_id is not None:
        existing = session.scalar(
            select(TicketSupporter).where(
                TicketSupporter.ticket_id == ticket.id, TicketSupporter.contact_id == contact_id
            )
        )
        if existing is not None:
            if existing.role == FOLLOWER and role == SUPPORTER:
                existing.role, existing.source = role, source
                existing.privacy = privacy if privacy in lc.PRIVACY_LEVELS else lc.DEFAULT_PRIVACY
                existing.merged_from = merged_from
                return existing
            return None
    row = TicketSupporter(
        ticket_id=ticket.id,
        contact_id=contact_id,
        channel=channel,
        address=address,
        language=language if language in texts.LANGUAGES else "id",
        privacy=privacy if privacy in lc.PRIVACY_LEVELS else lc.DEFAULT_PRIVACY,
        source=source,
        merged_from=merged_from,
        role=role,
        created_at=utcnow(),
    )
    session.add(row)
    return row


def _event(session: Session, ticket: Ticket, actor_label: str, data: dict[str, Any]) -> None:
    session.add(
        TicketEvent(
            ticket=ticket,
            action="supporter",
            from_status=ticket.status,
            to_status=ticket.status,
            actor_type="system",
            actor_label=actor_label,
            internal=True,
            data=data,
            created_at=utcnow(),
        )
    )


def merge(
    session: Session, runtime: Runtime, duplicate: Ticket, original: Ticket, actor: Actor
) -> TicketSupporter | None:
    """Archive ``duplicate`` as a duplicate of ``original``; its reporter (and its own supporters)
    support ``original`` from now on, each with their own privacy, channel and language.

    The duplicate's reporter is told once, on their channel, that their report joined the
    original's, instead of the usual "archived" notice.
    """
    from gateway.tickets.service import transition

    if not actor.city_wide:
        raise lc.TransitionRefused(
            "forbidden", "only the coordinator merges tickets", key="merge_not_allowed"
        )
    if duplicate.id == original.id:
        raise lc.TransitionRefused(
            "invalid_argument", "a ticket cannot be merged into itself", key="merge_same_ticket"
        )
    if original.status == lc.ARCHIVED:
        raise lc.TransitionRefused(
            "invalid_transition",
            f"#{original.tracking} is archived; merge into an open ticket",
            key="merge_into_archived",
            params={"tracking": original.tracking},
        )
    transition(
        session,
        runtime,
        duplicate,
        lc.ARCHIVE,
        actor,
        notify=False,
        reason="duplicate",
        duplicate_of=original.tracking,
    )
    row = _add(
        session,
        original,
        contact_id=duplicate.contact_id,
        channel=duplicate.channel,
        address=duplicate.address,
        language=duplicate.language,
        privacy=duplicate.privacy,
        source="merge",
        merged_from=duplicate.id,
    )
    # The duplicate's own supporters move along, except those who already support the original.
    already = set(
        session.scalars(select(TicketSupporter.contact_id).where(TicketSupporter.ticket_id == original.id))
    ) | {original.contact_id}
    session.flush()
    for moved in session.scalars(
        select(TicketSupporter).where(TicketSupporter.ticket_id == duplicate.id)
    ).all():
        if moved.contact_id is not None and moved.contact_id in already:
            session.delete(moved)
        else:
            moved.ticket_id = original.id
    _recount(session, duplicate)
    total = _recount(session, original)
    _event(
        session, original, actor.label or "Koordinator", {"merged": duplicate.tracking, "supporters": total}
    )
    original.has_unread = True
    if duplicate.channel and duplicate.address and not opted_out(session, duplicate.contact_id):
        language = duplicate.language or "id"
        text = texts.fit(
            runtime.config,
            "join.merged",
            language,
            max_length(runtime, duplicate.channel),
            duplicate=duplicate.tracking,
            tracking=original.tracking,
        )
        queue_message(
            session,
            channel=duplicate.channel,
            address=duplicate.address,
            text=text,
            contact_id=duplicate.contact_id,
            dedupe_key=f"merged:{duplicate.id}",
            ticket_id=duplicate.id,
            author="system",
            purpose="notification",
            language=language,
        )
    return row


def _recent_joins(session: Session, contact_id: int) -> int:
    """IKUT/JOIN answers this contact got in the last 24 hours (each attempt gets one)."""
    since = utcnow() - timedelta(hours=24)
    return int(
        session.scalar(
            select(func.count(Message.id)).where(
                Message.contact_id == contact_id,
                Message.direction == "out",
                Message.dedupe_key.like("join:%"),
                Message.created_at >= since,
            )
        )
        or 0
    )


def join(
    session: Session,
    runtime: Runtime,
    contact: Contact,
    tracking: str,
    channel: str,
    address: str,
    language: str,
    key: str,
) -> str:
    """IKUT/JOIN ``tracking`` from ``contact``: the outcome ("joined", "already", "own",
    "not_found", "limited"), answered on the channel the citizen wrote from.

    Only a verified public ticket can be joined (`service.is_public`): nothing about an
    unverified or confidential one, not even that it exists, is told to a stranger.
    """
    from gateway.tickets.service import is_public

    if _recent_joins(session, contact.id) >= join_per_day(runtime):
        outcome = "limited"
        ticket = None
    else:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        if ticket is not None and ticket.contact_id == contact.id:
            outcome = "own"
        elif ticket is None or not is_public(ticket) or ticket.status == lc.ARCHIVED:
            outcome = "not_found"
        elif (
            _add(
                session,
                ticket,
                contact_id=contact.id,
                channel=channel,
                address=address,
                language=language,
                privacy=lc.DEFAULT_PRIVACY,
                source="join",
            )
            is None
        ):
            outcome = "already"
        else:
            outcome = "joined"
            total = _recount(session, ticket)
            _event(session, ticket, "Warga", {"joined": True, "supporters": total})
    count_now = reporters(ticket) if ticket is not None else 1
    text = texts.fit(
        runtime.config,
        f"join.{outcome}",
        language,
        max_length(runtime, channel),
        tracking=tracking,
        count=count_now,
    )
    queue_message(
        session,
        channel=channel,
        address=address,
        text=text,
        contact_id=contact.id,
        dedupe_key=f"join:{key}",
        ticket_id=ticket.id if outcome in ("joined", "already", "own") and ticket is not None else None,
        language=language,
    )
    return outcome


def add_follower(
    session: Session, ticket: Ticket, contact_id: int, channel: str, address: str, language: str
) -> TicketSupporter | None:
    """``contact_id`` hears ``ticket``'s updates from now on without being counted as a reporter
    (`gateway.tickets.followers`); None when they are its reporter or already have a row."""
    return _add(
        session,
        ticket,
        contact_id=contact_id,
        channel=channel,
        address=address,
        language=language,
        privacy=lc.DEFAULT_PRIVACY,
        source="follow",
        role=FOLLOWER,
    )


def tell_supporters(
    session: Session, runtime: Runtime, ticket: Ticket, event: TicketEvent, kind: str, note: str | None
) -> int:
    """Send the update ``kind`` of ``ticket`` to each supporter and follower, in their language, on
    their channel."""
    rows = session.scalars(select(TicketSupporter).where(TicketSupporter.ticket_id == ticket.id)).all()
    sent = 0
    for row in rows:
        to = Recipient(row.channel, row.address, row.contact_id, row.language)
        key = f"notify:{event.id}:s{row.id}"
        if queue_status_update(session, runtime, ticket, kind, note, to, dedupe_key=key) is None:
            continue
        sent += 1
    return sent


def popular_first(threshold: int) -> Any:
    """An ORDER BY key: 0 for an open ticket with at least ``threshold`` supporters, else 1
    (0 turns the rise off). Reads the count the way `gateway.tickets.emergency` reads its flag."""
    if threshold <= 0:
        return case((Ticket.id.is_(None), 0), else_=1)
    supported = func.coalesce(Ticket.data[COUNT_KEY].as_integer(), 0) >= threshold
    return case((and_(supported, Ticket.status.in_(tuple(lc.OPEN_STATUSES))), 0), else_=1)


def supporters_total(session: Session, scope: Any, since: Any, until: Any, agency_id: int | None) -> int:
    """Supporters of the tickets counted (created in the period), for the figures."""
    query = (
        select(func.count(TicketSupporter.id))
        .join(Ticket, Ticket.id == TicketSupporter.ticket_id)
        .where(TicketSupporter.role == SUPPORTER)
    )
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    if until is not None:
        query = query.where(Ticket.created_at < until)
    if agency_id is not None:
        query = query.where(Ticket.agency_id == agency_id)
    if scope is not None:
        query = query.where(scope)
    return int(session.scalar(query) or 0)
