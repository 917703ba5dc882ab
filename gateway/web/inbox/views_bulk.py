"""Working through a queue: one action on many tickets, previewed first, each through the service.

The list's checkboxes send the chosen tickets here (``GET /inbox/bulk``): the page
shows, ticket by ticket, what the action will do or why it will be skipped (the
lifecycle's own `plan_transition`, a dry run of the rule `service.transition`
applies), and nothing changes until the operator confirms (``POST``). Each ticket
then goes through `service.transition` in its own savepoint, so its rules, its
history row, its audit entry and the citizen's notification are those of the
single-ticket form, and a refused ticket does not stop the others.

Actions: ``verify`` (dispose each ticket to the agency routing suggested for it),
``dispose`` (all to one agency) and ``archive`` (one reason; duplicates need the
other number, so they are archived one by one from the thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from flask import render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from conversations.tracking import parse_tracking
from gateway.store.models import Agency, Ticket
from gateway.tickets import service, visibility
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import actor, audit, runtime
from gateway.web.inbox.auth import roles_required
from gateway.web.inbox.filters import ListFilter, list_query
from gateway.web.inbox.i18n import translate

#: The bulk actions and the lifecycle action each applies.
BULK_ACTIONS: Final = {"verify": lc.DISPOSE, "dispose": lc.DISPOSE, "archive": lc.ARCHIVE}
#: Reasons that need nothing more than the reason (``duplicate`` needs the other ticket's number).
BULK_ARCHIVE_REASONS: Final = tuple(r for r in lc.ARCHIVE_REASONS if r != "duplicate")
#: Most tickets one bulk action takes (a page of the list is 25).
MAX_TICKETS: Final = 100


@dataclass
class Planned:
    """One selected ticket and what the action will do to it."""

    ticket: Ticket
    agency: str | None = None  # where dispose/verify sends it
    skip: str | None = None  # why it will be skipped (the refusal, in words)
    done: bool = False


def _agencies(db: Session) -> list[Agency]:
    rows = db.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.name))
    return [a for a in rows if not a.is_coordinator]


def _selected(db: Session, raw: list[str]) -> list[Ticket]:
    """The selected tickets this operator may see, in the order chosen; others are left out silently."""
    numbers = [parse_tracking(value) or value.strip().lstrip("#") for value in raw[: MAX_TICKETS * 2]]
    numbers = list(dict.fromkeys(n for n in numbers if n and n.isalnum()))[:MAX_TICKETS]
    if not numbers:
        return []
    found = {
        t.tracking: t
        for t in db.scalars(
            select(Ticket).where(visibility.visible_clause(actor()), Ticket.tracking.in_(numbers))
        )
    }
    return [found[n] for n in numbers if n in found]


def _target(ticket: Ticket, name: str, agency: str, codes: set[str]) -> str | None:
    if name == "dispose":
        return agency
    suggested = ((ticket.data or {}).get("routing") or {}).get("agency")
    return suggested if suggested in codes else None


def _plan(db: Session, name: str, agency: str, reason: str) -> tuple[list[Planned], list[Agency]]:
    """What ``name`` would do to each selected ticket, without changing anything."""
    from gateway.web.inbox.views_ticket import refusal_text

    agencies = _agencies(db)
    codes = {a.code for a in agencies}
    act = actor()
    planned = []
    for ticket in _selected(db, request.values.getlist("t")):
        item = Planned(ticket)
        args: dict[str, Any] = {}
        if BULK_ACTIONS[name] == lc.DISPOSE:
            item.agency = _target(ticket, name, agency, codes)
            if item.agency is None:
                item.skip = translate("bulk.no_suggestion")
                planned.append(item)
                continue
            args["agency"] = item.agency
        else:
            args["reason"] = reason
        try:
            lc.plan_transition(
                ticket.status,
                BULK_ACTIONS[name],
                act.role,
                args=args,
                own_agency=act.agency_id is not None and act.agency_id == ticket.agency_id,
                has_agency=ticket.dispatched_at is not None and ticket.agency_id is not None,
                closed=ticket.closed_at is not None,
            )
        except service.TransitionRefused as exc:
            item.skip = refusal_text(exc)
        planned.append(item)
    return planned, agencies


def _choice() -> tuple[str, str, str, str | None]:
    """The action, agency and reason asked for, and the problem with them (a text key) if any."""
    name = request.values.get("action", "")
    agency = (request.values.get("agency") or "").strip().lower()
    reason = request.values.get("reason", "")
    if name not in BULK_ACTIONS:
        return name, agency, reason, "bulk.choose_action"
    if name == "archive" and reason not in BULK_ARCHIVE_REASONS:
        return name, agency, reason, "bulk.choose_reason"
    return name, agency, reason, None


def next_ticket(db: Session, skip: set[str]) -> Ticket | None:
    """The first ticket of the operator's active list not among ``skip``: where to go next."""
    query: Any = list_query(visibility.visible_tickets_query(actor()), ListFilter(), current_user.id)
    query = query.where(Ticket.tracking.notin_(skip)) if skip else query
    found: Ticket | None = db.scalar(query.limit(1))
    return found


def _page(planned: list[Planned], agencies: list[Agency], status: int = 200, **context: Any) -> Any:
    return (
        render_template(
            "inbox/bulk.html",
            planned=planned,
            agencies=agencies,
            actions=list(BULK_ACTIONS),
            reasons=BULK_ARCHIVE_REASONS,
            **context,
        ),
        status,
    )


@inbox_bp.get("/bulk")
@login_required
@roles_required("admin", "coordinator")
def bulk_preview() -> Any:
    name, agency, reason, problem = _choice()
    with runtime().db.session() as db:
        if problem is not None:
            return _page([], _agencies(db), 400, problem=problem, choice=(name, agency, reason))
        if name == "dispose" and agency not in {a.code for a in _agencies(db)}:
            return _page([], _agencies(db), 400, problem="bulk.choose_agency", choice=(name, agency, reason))
        planned, agencies = _plan(db, name, agency, reason)
        if not planned:
            return _page([], agencies, 400, problem="bulk.nothing_selected", choice=(name, agency, reason))
        return _page(planned, agencies, choice=(name, agency, reason), preview=True)


@inbox_bp.post("/bulk")
@login_required
@roles_required("admin", "coordinator")
def bulk_apply() -> Any:
    from gateway.web.inbox.views_ticket import refusal_text

    name, agency, reason, problem = _choice()
    if request.form.get("confirm") != "1":
        problem = problem or "bulk.not_confirmed"
    with runtime().db.session() as db:
        if problem is not None:
            return _page([], _agencies(db), 400, problem=problem, choice=(name, agency, reason))
        planned, agencies = _plan(db, name, agency, reason)
        act = actor()
        for item in planned:
            if item.skip is not None:
                continue
            args: dict[str, Any] = (
                {"agency": item.agency} if BULK_ACTIONS[name] == lc.DISPOSE else {"reason": reason}
            )
            try:
                with db.begin_nested():
                    service.transition(db, runtime(), item.ticket, BULK_ACTIONS[name], act, **args)
            except service.TransitionRefused as exc:
                item.skip = refusal_text(exc)
                continue
            audit(db, f"ticket.{BULK_ACTIONS[name]}", item.ticket, f"bulk {name}: {args}")
            item.done = True
        following = next_ticket(db, {item.ticket.tracking for item in planned if item.done})
        return _page(
            planned,
            agencies,
            choice=(name, agency, reason),
            done=sum(1 for item in planned if item.done),
            next_ticket=following,
        )
