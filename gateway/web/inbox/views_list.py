"""The ticket list: tabs with counts, filters, search, paging, polling and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from gateway.store.models import Agency, Operator, Ticket, TicketEvent
from gateway.tickets import visibility
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import actor, audit, runtime, visible_tickets
from gateway.web.inbox.filters import CITY_TABS, TABS, ListFilter, list_query, page_of, tab_counts
from gateway.web.inbox.i18n import translate
from gateway.web.inbox.templating import category_name, channel_label, local_day, local_time, status_label

#: Rows a single export may hold; a bigger list must be narrowed by filters first.
EXPORT_LIMIT = 50_000
#: First characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: a leading formula character gets a quote before it."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return "\ufeff" + buffer.getvalue()  # BOM: Excel then reads UTF-8 (Indonesian names, emoji)


def reporter_label(ticket: Ticket, reveal: bool) -> str:
    if not reveal:
        return translate("ticket.anonymous_reporter")
    if ticket.contact is not None and ticket.contact.display_name:
        return ticket.contact.display_name
    return (ticket.address or "").split(":", 1)[-1] or translate("ticket.walk_in_reporter")


def returned_reasons(db: Session, tickets: Sequence[Ticket]) -> dict[int, TicketEvent]:
    """For tickets an agency handed back and nobody has dispatched since: the "bukan wewenang"
    event (who returned it, and why), shown in the list and on the ticket."""
    waiting = [t.id for t in tickets if t.status == lc.UNVERIFIED and (t.data or {}).get("refused_by")]
    if not waiting:
        return {}
    latest: dict[int, TicketEvent] = {}
    events = db.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id.in_(waiting), TicketEvent.action == lc.NOT_OUR_AUTHORITY)
        .order_by(TicketEvent.created_at, TicketEvent.id)
    )
    for event in events:
        latest[event.ticket_id] = event
    return latest


def _context(db: Session, flt: ListFilter) -> dict[str, Any]:
    base = visible_tickets()
    act = actor()
    reveal = visibility.reveals_reporter_clause(act)
    counts = tab_counts(db, base, flt, current_user.id, reveal)
    tickets, pages = page_of(db, list_query(base, flt, current_user.id, reveal), flt.page)
    returned = returned_reasons(db, tickets)
    agencies: dict[int | None, Agency] = {a.id: a for a in db.scalars(select(Agency))}
    assignees = {
        o.id: o.name
        for o in db.scalars(
            select(Operator).where(
                Operator.id.in_({t.assigned_operator_id for t in tickets if t.assigned_operator_id})
            )
        )
    }
    rows = [
        {
            "ticket": t,
            "reporter": reporter_label(t, visibility.reveals_reporter(act, t)),
            "agency": agencies.get(t.agency_id),
            "assignee": assignees.get(t.assigned_operator_id) if t.assigned_operator_id else None,
            "returned": returned.get(t.id),
        }
        for t in tickets
    ]
    return {
        "flt": flt,
        "tabs": [tab for tab in TABS if not (current_user.agency_scoped and tab in CITY_TABS)],
        "counts": counts,
        "rows": rows,
        "pages": pages,
        "agencies": sorted(agencies.values(), key=lambda a: a.name),
        "channels": runtime().enabled_channels(),
        "categories": runtime().catalog.categories,
    }


@inbox_bp.get("/tickets")
@login_required
def tickets() -> Any:
    flt = ListFilter.from_args(request.args)
    with runtime().db.session() as db:
        context = _context(db, flt)
        return render_template("inbox/list.html", **context)


@inbox_bp.get("/tickets/fragment")
@login_required
def tickets_fragment() -> Any:
    """The tabs and the table alone, for the page's polling (no full reload)."""
    flt = ListFilter.from_args(request.args)
    with runtime().db.session() as db:
        context = _context(db, flt)
        return render_template("inbox/_list_region.html", **context)


@inbox_bp.get("/tickets/export.csv")
@login_required
def export_csv() -> Any:
    """The filtered list (all pages) as CSV, within the operator's visibility, reporters hidden as shown."""
    flt = ListFilter.from_args(request.args)
    act = actor()
    header = [
        translate(f"export.{k}")
        for k in (
            "tracking",
            "status",
            "agency",
            "category",
            "channel",
            "reporter",
            "privacy",
            "created",
            "last_activity",
            "deadline",
            "overdue",
            "location",
            "description",
        )
    ]
    with runtime().db.session() as db:
        agencies: dict[int | None, Agency] = {a.id: a for a in db.scalars(select(Agency))}
        reveal = visibility.reveals_reporter_clause(act)
        query = list_query(visible_tickets(), flt, current_user.id, reveal).limit(EXPORT_LIMIT)
        rows = []
        for t in db.scalars(query):
            agency = agencies.get(t.agency_id)
            rows.append(
                [
                    t.tracking,
                    status_label(t.status),
                    agency.name if agency else "",
                    category_name(t.category),
                    channel_label(t.channel, t.address),
                    reporter_label(t, visibility.reveals_reporter(act, t)),
                    translate(f"privacy.{t.privacy}"),
                    local_time(t.created_at),
                    local_time(t.last_activity_at),
                    local_day(t.deadline),
                    translate("common.yes") if t.overdue else translate("common.no"),
                    t.location_text or "",
                    t.description,
                ]
            )
        audit(db, "export.csv", detail=f"{len(rows)} rows; filters={flt.args()}")
    body = write_csv(header, rows)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="laporan.csv"', "Cache-Control": "no-store"},
    )
