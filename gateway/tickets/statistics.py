"""Statistics about complaint handling, for the public page, the API and the inbox dashboard.

SP4N-LAPOR! asks governments to publish how complaints are handled, so these
figures are the public's view of the service. Every function returns plain
dicts and lists (JSON-ready) so a template, the API and the dashboard share them.

Definitions (also in docs/openness.md):

* *received*: tickets created in the period (``since`` <= created_at < ``until``).
* *follow-up*: the first response to the citizen by an operator or agency
  (``Ticket.first_response_at``); when that is unset but the ticket is resolved,
  the resolution counts as the follow-up.
* *resolution*: ``Ticket.resolved_at``.
* *within deadline*: a resolved ticket whose resolution came no later than the
  ``follow_up`` deadline (working days, per category) counted from its dispatch
  (from its creation when it was never dispatched).
* *attribution*: a ticket counts under its agency for whoever may see that; the
  public sees an agency only for verified tickets (`visibility.attributed_agency`),
  the rest count under "belum terverifikasi" (``code`` None).
* *kecamatan*: a ticket counts under the kecamatan its place matched (``Ticket.area``,
  config/areas.yaml gives the code); the public sees it only for public tickets
  (`visibility.attributed_area`), the rest count under "unknown" (``name`` None).
* *scope*: each reader counts the tickets `visibility.counted_clause` gives them: the
  public and city-wide roles every ticket, an agency those disposed to it.
* Durations are working days (weekends, holidays and cuti bersama excluded) between
  local dates in the deployment's time zone.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversations.workdays import DEFAULT_DEADLINES, DEFAULT_TIMEZONE, WorkCalendar, local_date
from gateway.store.models import Agency, Ticket, utcnow
from gateway.tickets import visibility

#: Ticket statuses in workflow order (ARCHITECTURE.md); counts are always given for all of them.
STATUSES: tuple[str, ...] = ("unverified", "deferred", "dispatched", "in_progress", "resolved", "archived")
#: Statuses that end the agencies' work, for "open"/"closed" splits.
CLOSED_STATUSES: frozenset[str] = frozenset({"resolved", "archived"})
#: How many months the trend covers when the caller names no period.
DEFAULT_TREND_MONTHS = 12

DeadlinesFor = Callable[[str | None], Mapping[str, int]]


def _empty_counts() -> dict[str, int]:
    return dict.fromkeys(STATUSES, 0)


def _filtered(
    query: Any, since: datetime | None, until: datetime | None, agency_id: int | None, scope: Any = None
) -> Any:
    if scope is not None:
        query = query.where(scope)
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    if until is not None:
        query = query.where(Ticket.created_at < until)
    if agency_id is not None:
        query = query.where(Ticket.agency_id == agency_id)
    return query


def _grouped(
    session: Session,
    column: Any,
    since: datetime | None,
    until: datetime | None,
    agency_id: int | None,
    scope: Any = None,
) -> dict[Any, dict[str, int]]:
    key = column.label("key")
    query = _filtered(
        select(key, Ticket.status, func.count(Ticket.id)).group_by(key, Ticket.status),
        since,
        until,
        agency_id,
        scope,
    )
    out: dict[Any, dict[str, int]] = {}
    for key, status, count in session.execute(query):
        row = out.setdefault(key, _empty_counts())
        row[status] = row.get(status, 0) + int(count)
    return out


def _row(key: str | None, label: str | None, counts: Mapping[str, int]) -> dict[str, Any]:
    total = sum(counts.values())
    return {
        "code": key,
        "name": label,
        "total": total,
        "open": total - sum(counts.get(s, 0) for s in CLOSED_STATUSES),
        "by_status": dict(counts),
    }


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def _month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months_back(last: date, count: int) -> list[str]:
    keys: list[str] = []
    year, month = last.year, last.month
    for _ in range(count):
        keys.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(keys))


def stats(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    agency_id: int | None = None,
    *,
    calendar: WorkCalendar | None = None,
    deadlines: DeadlinesFor | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    category_names: Mapping[str, str] | None = None,
    trend_months: int = DEFAULT_TREND_MONTHS,
    now: datetime | None = None,
    scope: Any = None,
    agency_column: Any = None,
    area_column: Any = None,
    area_codes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """All published figures for tickets created in [since, until), optionally of one agency.

    ``scope`` (a SQL condition on Ticket) limits the tickets counted and
    ``agency_column`` is what they are counted under (Ticket.agency_id when None),
    ``area_column`` the kecamatan (Ticket.area when None), ``area_codes`` maps a
    kecamatan name to its Kemendagri code;
    `stats_for` takes both from the ticket service for the reader.
    ``calendar`` counts working days (a plain WorkCalendar when None);
    ``deadlines(category)`` gives a category's deadline table (the defaults when
    None); ``category_names`` maps category codes to the names shown.
    """
    calendar = calendar or WorkCalendar()
    now = now or utcnow()

    by_status = _empty_counts()
    counted = select(Ticket.status, func.count(Ticket.id)).group_by(Ticket.status)
    for status, count in session.execute(_filtered(counted, since, until, agency_id, scope)):
        by_status[status] = by_status.get(status, 0) + int(count)
    total = sum(by_status.values())

    agency_names = {a.id: (a.code, a.name) for a in session.scalars(select(Agency))}
    agencies = []
    by_agency = agency_column if agency_column is not None else Ticket.agency_id
    for key, counts in _grouped(session, by_agency, since, until, agency_id, scope).items():
        code, name = agency_names.get(key, (None, None))
        agencies.append(_row(code, name, counts))
    names = category_names or {}
    categories = [
        _row(key, names.get(key or "", key), counts)
        for key, counts in _grouped(session, Ticket.category, since, until, agency_id, scope).items()
    ]
    channels = [
        _row(key, key, counts)
        for key, counts in _grouped(session, Ticket.channel, since, until, agency_id, scope).items()
    ]
    codes = area_codes or {}
    by_area = area_column if area_column is not None else Ticket.area
    kecamatan = [
        _row(codes.get(key or ""), key, counts)
        for key, counts in _grouped(session, by_area, since, until, agency_id, scope).items()
    ]
    for rows in (agencies, categories, channels, kecamatan):
        rows.sort(key=lambda r: (-r["total"], r["code"] or ""))

    # Durations need each ticket's dates; only the few columns needed are read.
    timing = session.execute(
        _filtered(
            select(
                Ticket.category,
                Ticket.created_at,
                Ticket.dispatched_at,
                Ticket.first_response_at,
                Ticket.resolved_at,
            ),
            since,
            until,
            agency_id,
            scope,
        )
    ).all()
    to_follow_up: list[int] = []
    to_resolution: list[int] = []
    within = 0
    resolved_count = 0
    for category, created_at, dispatched_at, first_response_at, resolved_at in timing:
        created = local_date(created_at, timezone)
        follow_up_at = first_response_at or resolved_at
        if follow_up_at is not None:
            answered = local_date(follow_up_at, timezone)
            to_follow_up.append(max(0, calendar.working_days_between(created, answered)))
        if resolved_at is None:
            continue
        resolved_count += 1
        resolved = local_date(resolved_at, timezone)
        to_resolution.append(max(0, calendar.working_days_between(created, resolved)))
        table = dict(DEFAULT_DEADLINES)
        if deadlines is not None:
            table.update(deadlines(category))
        start = local_date(dispatched_at, timezone) if dispatched_at else created
        if resolved <= calendar.add_working_days(start, int(table["follow_up"])):
            within += 1

    # The trend: received per month of creation, resolved per month of resolution.
    last_month = local_date(until - timedelta(seconds=1), timezone) if until else local_date(now, timezone)
    months = _months_back(last_month, max(1, trend_months))
    trend: dict[str, dict[str, Any]] = {m: {"month": m, "received": 0, "resolved": 0} for m in months}
    for _category, created_at, _d, _f, resolved_at in timing:
        key = _month_key(local_date(created_at, timezone))
        if key in trend:
            trend[key]["received"] += 1
        if resolved_at is not None:
            key = _month_key(local_date(resolved_at, timezone))
            if key in trend:
                trend[key]["resolved"] += 1

    from gateway.tickets.satisfaction import figures as satisfaction_figures
    from gateway.tickets.supporters import supporters_total

    satisfaction = satisfaction_figures(
        session,
        since=since,
        until=until,
        agency_id=agency_id,
        scope=scope,
        agency_column=by_agency,
        category_names=names,
        timezone=timezone,
        months=months,
    )
    return {
        "period": {
            "since": _iso(since),
            "until": _iso(until),
            "agency_id": agency_id,
        },
        "total": total,
        "open": total - sum(by_status[s] for s in CLOSED_STATUSES),
        "by_status": by_status,
        "agencies": agencies,
        "categories": categories,
        "channels": channels,
        "kecamatan": kecamatan,
        "resolved": resolved_count,
        "resolved_within_deadline": within,
        "resolved_within_deadline_share": (round(within / resolved_count, 4) if resolved_count else None),
        "median_working_days_to_follow_up": _median(to_follow_up),
        "median_working_days_to_resolution": _median(to_resolution),
        "trend": list(trend.values()),
        "satisfaction": satisfaction,
        "supporters": supporters_total(session, scope, since, until, agency_id),
    }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stats_for(runtime: Any, session: Session, *, actor: Any, **kwargs: Any) -> dict[str, Any]:
    """`stats` as ``actor`` (a ticket service Actor) may read them, with this deployment's calendar.

    Which tickets count and under which agency is the ticket service's rule
    (`counted_clause`, `attributed_agency`): the public page passes
    ``Actor.public()``, the API its token's actor, the dashboard the operator's.
    """
    from gateway.tickets import policy

    kwargs.setdefault("scope", visibility.counted_clause(actor))
    kwargs.setdefault("agency_column", visibility.attributed_agency(actor))
    kwargs.setdefault("area_column", visibility.attributed_area(actor))
    kwargs.setdefault("area_codes", {k.name: k.code for k in runtime.config.areas.kecamatan})
    language = kwargs.pop("language", "id")
    kwargs.setdefault("calendar", policy.calendar(runtime))
    kwargs.setdefault("deadlines", lambda category: policy.deadlines(runtime, category))
    kwargs.setdefault("timezone", policy.timezone(runtime))
    kwargs.setdefault("category_names", {c.code: c.name(language) for c in runtime.catalog.categories})
    return stats(session, **kwargs)
