"""Views of the public pages. Every text shown passes through `gateway.privacy.redact` first.

Unknown or malformed query parameters answer 400 (an HTML page, these being
HTML endpoints), so a mistyped link is noticed rather than silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from conversations.tracking import parse_tracking
from gateway.store.models import Agency, Ticket, TicketEvent
from gateway.tickets import service, supporters, visibility
from gateway.tickets.statistics import STATUSES, stats_for
from gateway.web.bounds import parse_id
from gateway.web.public.charts import trend_svg
from gateway.web.public.listing import PublicQuery, public_tickets, ticket_card
from gateway.web.public.texts import LANGUAGES, PublicTexts

public_bp = Blueprint("public", __name__)

PAGE_PARAMS = frozenset({"lang", "q", "status", "agency", "category", "page"})
TRACK_PARAMS = frozenset({"lang", "nomor"})
MAX_QUERY_CHARS = 200
MAX_PAGE = 10_000


class BadRequest(ValueError):
    """A query parameter the page cannot use; shown to the visitor as a 400 page."""


def _runtime() -> Any:
    return current_app.extensions["lapor"]


def _language() -> str:
    lang = request.args.get("lang", "id")
    if lang not in LANGUAGES:
        raise BadRequest(f"lang must be one of {', '.join(LANGUAGES)}")
    return lang


def _check_params(allowed: frozenset[str]) -> None:
    unknown = set(request.args) - allowed
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    for key in request.args:
        if len(request.args.getlist(key)) > 1:
            raise BadRequest(f"parameter {key} given more than once")


def _texts(lang: str) -> PublicTexts:
    return PublicTexts(lang, _runtime().settings.env)


def _error_page(status: int, heading: str, text: str, lang: str = "id") -> Any:
    t = _texts(lang)
    return render_template("public/error.html", t=t, lang=lang, heading=heading, text=text), status


def _list_query(agency_codes: set[str], category_codes: set[str]) -> PublicQuery:
    q = request.args.get("q", "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise BadRequest(f"q is longer than {MAX_QUERY_CHARS} characters")
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest("unknown status")
    agency = request.args.get("agency") or None
    if agency is not None and agency not in agency_codes:
        raise BadRequest("unknown agency")
    category = request.args.get("category") or None
    if category is not None and category not in category_codes:
        raise BadRequest("unknown category")
    page = parse_id(request.args.get("page", "1"))
    if page is None or not 1 <= page <= MAX_PAGE:
        raise BadRequest(f"page must be a whole number from 1 to {MAX_PAGE}")
    return PublicQuery(q=q or None, status=status, agency=agency, category=category, page=page)


@public_bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> Any:
    lang = request.args.get("lang", "id")
    lang = lang if lang in LANGUAGES else "id"
    return _error_page(400, _texts(lang)("bad_request_heading"), str(exc), lang)


@public_bp.errorhandler(RateLimitExceeded)
def _too_many(exc: RateLimitExceeded) -> Any:
    """The tracking lookup's limit (gateway.web.request_limits): say so, and why, in the page's language."""
    lang = request.args.get("lang", "id")
    lang = lang if lang in LANGUAGES else "id"
    t = _texts(lang)
    return _error_page(429, t("too_many_heading"), t("too_many_text", limit=exc.limit.limit), lang)


@public_bp.get("/")
@public_bp.get("/statistik")
def statistics_page() -> Any:
    """Totals, counts by agency/category/channel, deadlines, medians, trend, and the public list."""
    _check_params(PAGE_PARAMS)
    lang = _language()
    t = _texts(lang)
    runtime = _runtime()
    catalog = runtime.catalog
    query = _list_query({a.code for a in catalog.agencies}, {c.code for c in catalog.categories})
    with runtime.db.session() as session:
        figures = stats_for(runtime, session, actor=service.Actor.public(), language=lang)
        tickets, has_next = public_tickets(session, query)
        cards = [ticket_card(ticket) for ticket in tickets]
        agencies = [(a.code, a.name) for a in session.scalars(select(Agency).order_by(Agency.name))]
    chart = trend_svg(
        figures["trend"],
        received_label=t("trend_received"),
        resolved_label=t("trend_resolved"),
        caption=t("trend_caption"),
        month_names=t.months(),
    )
    categories = {c.code: c.name(lang) for c in catalog.categories}
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "public/statistik.html",
        t=t,
        lang=lang,
        city=catalog.city,
        figures=figures,
        chart=chart,
        statuses=STATUSES,
        cards=cards,
        categories=categories,
        agencies=agencies,
        query=query,
        has_next=has_next,
        page_url=lambda page: url_for("public.statistics_page", **(kept | {"page": page})),
    )


@public_bp.get("/lacak")
def track_form() -> Any:
    """The form on the public page sends ?nomor=...; a bare /lacak shows the page with the form."""
    _check_params(TRACK_PARAMS)
    lang = _language()
    number = request.args.get("nomor", "").strip().lstrip("#").strip()
    if not number:
        return redirect(url_for("public.statistics_page", lang=lang if lang != "id" else None) + "#lacak")
    if len(number) > 32:
        raise BadRequest("nomor is too long")
    return redirect(url_for("public.track", tracking=number, lang=lang if lang != "id" else None))


@public_bp.get("/lacak/<tracking>")
def track(tracking: str) -> Any:
    """One ticket's status; a confidential ticket shows its status and nothing else.

    Its agency shows only once the ticket is public (verified): before that it is
    routing's suggestion, which the coordinator may still change.
    """
    _check_params(frozenset({"lang"}))
    lang = _language()
    t = _texts(lang)
    shown = tracking.strip()[:32]
    number = parse_tracking(shown)
    if number is None:
        # Eight digits with a wrong check digit (a typo) and anything else are both "invalid".
        text = t("invalid_text", number=shown.lstrip("#"))
        return _error_page(404, t("invalid_heading"), text, lang)
    runtime = _runtime()
    with runtime.db.session() as session:
        ticket = session.scalar(
            select(Ticket)
            .where(Ticket.tracking == number)
            .options(selectinload(Ticket.agency), selectinload(Ticket.contact))
        )
        if ticket is None:
            return _error_page(404, t("not_found_heading"), t("not_found_text", number=number), lang)
        confidential = visibility.is_confidential(ticket)
        # The agency is routing's guess until a person verified the ticket; it is shown only then.
        attributed = visibility.is_public(ticket)
        history: list[tuple[datetime, str]] = []
        if not confidential:
            events = session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.to_status.is_not(None))
                .order_by(TicketEvent.id)
            )
            history = [(e.created_at, e.to_status or "") for e in events if not e.internal]
        categories = {c.code: c.name(lang) for c in runtime.catalog.categories}
        view = {
            "tracking": ticket.tracking,
            "status": ticket.status,
            "confidential": confidential,
            "agency": ticket.agency.name if ticket.agency and attributed else None,
            "category": categories.get(ticket.category or "", ticket.category) if not confidential else None,
            "created_at": ticket.created_at if not confidential else None,
            "deadline": ticket.deadline if not confidential else None,
            "history": history,
            # How many citizens reported it ("ikut melapor"), for a public (verified) ticket only.
            "reporters": supporters.reporters(ticket) if attributed else None,
        }
    return render_template("public/lacak.html", t=t, lang=lang, ticket=view)


@public_bp.record_once
def _limit_lookups(state: BlueprintSetupState) -> None:
    """Registered after the routes above, so the view to limit is in place."""
    from gateway.web.request_limits import limit_lookups

    limit_lookups(state.app, "public.track")


@public_bp.app_template_filter("local_date")
def _local_date(value: datetime | None) -> str:
    """A date as the agencies' calendar shows it (the deployment's time zone)."""
    if value is None:
        return "-"
    from conversations.workdays import local_date
    from gateway.tickets import policy

    return local_date(value, policy.timezone(_runtime())).strftime("%d-%m-%Y")
