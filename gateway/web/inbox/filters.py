"""The ticket list's filters, tabs and counts, shared by the page, its polling and the CSV export.

Every query starts from the ticket service's `visible_tickets_query`, so the list,
the tab counts and the export can never show more than the operator may see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from adapters.common import normalize_phone
from conversations import lifecycle as lc
from conversations.tracking import parse_tracking
from gateway.store.models import Agency, ContactAddress, Message, Ticket, TicketEvent
from gateway.tickets.emergency import urgent_first
from gateway.tickets.supporters import popular_first

#: Search text that may be a phone number: digits, an optional leading "+", 8 to 16 of them.
PHONE_LIKE = re.compile(r"^\+?\d{8,16}$")
#: Tickets per page.
PAGE_SIZE = 25
#: The tabs across the top of the list, in order; each is a condition on Ticket.
#: "returned": handed back by an agency ("bukan wewenang") and waiting for the coordinator again.
TABS: tuple[str, ...] = ("open", *lc.STATUSES, "all", "overdue", "unassigned", "mine", "returned")
#: Tabs only city-wide staff see (an agency never holds a ticket another agency handed back).
CITY_TABS: frozenset[str] = frozenset({"returned"})


@dataclass(frozen=True)
class ListFilter:
    tab: str = "open"
    agency: str = ""
    channel: str = ""
    category: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListFilter:
        tab = args.get("tab", "open")
        try:
            page = max(1, min(int(args.get("page", "1")), 100_000))
        except ValueError:
            page = 1
        return cls(
            tab=tab if tab in TABS else "open",
            agency=(args.get("agency") or "").strip()[:64],
            channel=(args.get("channel") or "").strip()[:32],
            category=(args.get("category") or "").strip()[:64],
            q=(args.get("q") or "").strip()[:200],
            page=page,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for a link to this list with ``changes`` (empty ones dropped)."""
        values = asdict(self) | changes
        if "page" not in changes:
            values["page"] = 1
        defaults = {"page": 1, "tab": "open"}  # left out: links stay short, and a bare URL means the same
        return {k: v for k, v in values.items() if v not in ("", None) and defaults.get(k) != v}


def tab_condition(tab: str, operator_id: int) -> Any:
    if tab == "open":
        return Ticket.status.in_(tuple(lc.OPEN_STATUSES))
    if tab in lc.STATUSES:
        return Ticket.status == tab
    if tab == "overdue":
        return and_(Ticket.overdue.is_(True), Ticket.status.in_(tuple(lc.OPEN_STATUSES)))
    if tab == "unassigned":
        return and_(Ticket.assigned_operator_id.is_(None), Ticket.status.in_(tuple(lc.OPEN_STATUSES)))
    if tab == "mine":
        return Ticket.assigned_operator_id == operator_id
    if tab == "returned":
        return and_(Ticket.status == lc.UNVERIFIED, returned_clause())
    return Ticket.id.is_not(None)  # "all"


def returned_clause() -> Any:
    """The ticket was handed back by an agency at least once ("bukan wewenang")."""
    return exists().where(
        and_(TicketEvent.ticket_id == Ticket.id, TicketEvent.action == lc.NOT_OUR_AUTHORITY)
    )


def phone_addresses(needle: str) -> list[str] | None:
    """The addresses a typed phone number stands for ("0857...", "+62 857-...", "62857..."), or None
    when the search text is not a phone number. Numbers are normalized by phonenumbers (region ID)
    through `adapters.common.normalize_phone`, the rule every channel stores addresses by."""
    digits = needle.replace(" ", "").replace("-", "")
    if not PHONE_LIKE.match(digits):
        return None
    number = normalize_phone(digits)
    if number is None:
        return None
    return [f"tel:{number}", f"whatsapp:{number}"]


def apply_filters(query: Select[Any], flt: ListFilter, reveal: Any = None) -> Select[Any]:
    """The filters other than the tab: agency, channel, category and the search text.

    ``reveal`` is `visibility.reveals_reporter_clause` for the operator: a search by phone
    number finds only tickets whose reporter the operator may see (an agency never finds
    an anonymous reporter by typing their number). Without it, numbers match nothing.
    """
    if flt.agency:
        query = query.where(Ticket.agency_id.in_(select(Agency.id).where(Agency.code == flt.agency)))
    if flt.channel:
        query = query.where(Ticket.channel == flt.channel)
    if flt.category:
        query = query.where(Ticket.category == flt.category)
    if flt.q:
        needle = flt.q.lstrip("#").strip()
        number = parse_tracking(needle)
        pattern = f"%{_escape_like(needle)}%"
        text_match = or_(
            Ticket.description.ilike(pattern, escape="\\"),
            Ticket.location_text.ilike(pattern, escape="\\"),
            exists().where(and_(Message.ticket_id == Ticket.id, Message.text.ilike(pattern, escape="\\"))),
        )
        conditions = [Ticket.tracking == (number or needle), text_match]
        addresses = phone_addresses(needle)
        if addresses is not None and reveal is not None:
            by_address = or_(
                Ticket.address.in_(addresses),
                Ticket.contact_id.in_(
                    select(ContactAddress.contact_id).where(ContactAddress.address.in_(addresses))
                ),
            )
            conditions.append(and_(by_address, reveal))
        query = query.where(or_(*conditions))
    return query


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_query(base: Select[Ticket], flt: ListFilter, operator_id: int, reveal: Any = None) -> Select[Ticket]:
    """The list in the order operators work it: open emergencies first, then open tickets many citizens
    reported (supporters at or above the deployer's threshold), then the latest activity."""
    query = apply_filters(base, flt, reveal).where(tab_condition(flt.tab, operator_id))
    return query.order_by(
        urgent_first(), popular_first(_rise_threshold()), Ticket.last_activity_at.desc(), Ticket.id.desc()
    )


def _rise_threshold() -> int:
    """Supporters that lift an open ticket above the rest (config/supporters.yaml ``rise_threshold``)."""
    from flask import current_app

    from gateway.tickets.supporters import rise_threshold

    return rise_threshold(current_app.extensions["lapor"])


def tab_counts(
    session: Session, base: Select[Ticket], flt: ListFilter, operator_id: int, reveal: Any = None
) -> dict[str, int]:
    """How many tickets each tab holds under the current filters, in one query."""
    filtered = apply_filters(base, flt, reveal).subquery()
    columns = [
        func.coalesce(func.sum(case((_on(tab_condition(tab, operator_id), filtered), 1), else_=0)), 0).label(
            tab
        )
        for tab in TABS
    ]
    row = session.execute(select(*columns).select_from(filtered)).one()
    return {tab: int(row._mapping[tab] or 0) for tab in TABS}


def _on(condition: ColumnElement[Any], sub: Subquery) -> ColumnElement[Any]:
    """``condition`` (written against Ticket) re-pointed at the filtered subquery's columns."""
    from sqlalchemy.sql import visitors

    def swap(element: Any, **_kw: Any) -> Any:
        key = getattr(element, "key", None)
        if getattr(element, "table", None) is Ticket.__table__ and isinstance(key, str) and key in sub.c:
            return sub.c[key]
        return None

    return visitors.replacement_traverse(condition, {}, swap)


def page_of(session: Session, query: Select[Ticket], page: int) -> tuple[list[Ticket], int]:
    """The tickets of ``page`` and the number of pages."""
    total = int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    rows = list(session.scalars(query.offset((min(page, pages) - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return rows, pages
