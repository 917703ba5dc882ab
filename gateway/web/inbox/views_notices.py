"""Being told: unread tickets in the menu and the title, what is due today, and who else is on a ticket.

* The unread count is the number of tickets the operator may see that carry the
  list's red dot (`Ticket.has_unread`): the same mark, counted.
* ``/inbox/today``: open tickets due today, and the overdue ones (the list's own
  "Terlambat" condition, `filters.tab_condition`), within the operator's visibility.
* ``/inbox/t/<n>/presence``: the thread page reports here every few seconds and
  gets back who else has the ticket open or is typing (`gateway.web.inbox.presence`),
  and who else has acted on it (a reply, a status change, a note) since the page
  was loaded: the two ways two operators end up answering the same citizen twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select

from conversations import lifecycle as lc
from gateway.store.models import Ticket, TicketEvent, utcnow
from gateway.tickets import policy, visibility
from gateway.web.inbox import inbox_bp, presence
from gateway.web.inbox.access import actor, runtime, ticket_or_404
from gateway.web.inbox.filters import tab_condition


def unread_count() -> int:
    """Visible tickets with a new citizen message (the list's red dot).

    A read-only session: pages call this while their own session is open.
    """
    with runtime().db.session(write=False) as db:
        query = (
            select(func.count())
            .select_from(Ticket)
            .where(visibility.visible_clause(actor()), Ticket.has_unread.is_(True))
        )
        return int(db.scalar(query) or 0)


@inbox_bp.app_context_processor
def _notices_context() -> dict[str, Any]:
    """``unread_count()`` for the menu and the title, computed only when a page asks for it."""
    stamp = {"now_stamp": lambda: f"{utcnow().timestamp():.3f}"}
    if request.blueprint != "inbox" or not getattr(current_user, "is_authenticated", False):
        return {"unread_count": lambda: 0, **stamp}
    cache: dict[str, int] = {}

    def once() -> int:
        if "n" not in cache:
            cache["n"] = unread_count()
        return cache["n"]

    return {"unread_count": once, **stamp}


@inbox_bp.get("/notices.json")
@login_required
def notices() -> Any:
    """The menu's count, for the page's polling (title and badge change without a reload)."""
    return {"unread": unread_count()}


@inbox_bp.get("/today")
@login_required
def today() -> Any:
    day = policy.today(runtime())
    visible = visibility.visible_tickets_query(actor())
    with runtime().db.session(write=False) as db:
        due = list(
            db.scalars(
                visible.where(Ticket.deadline == day, Ticket.status.in_(tuple(lc.OPEN_STATUSES)))
                .where(Ticket.overdue.is_(False))
                .order_by(Ticket.last_activity_at)
            )
        )
        late = list(
            db.scalars(
                visible.where(tab_condition("overdue", current_user.id)).order_by(
                    Ticket.deadline, Ticket.last_activity_at
                )
            )
        )
        return render_template("inbox/today.html", due=due, late=late, day=day)


def _since(raw: str | None) -> datetime:
    try:
        return datetime.fromtimestamp(float(raw or ""), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return utcnow()


@inbox_bp.post("/t/<tracking>/presence")
@login_required
def presence_report(tracking: str) -> Any:
    """Record this operator on the ticket; answer who else is on it and who acted since ``since``."""
    typing = request.form.get("typing") == "1"
    since = _since(request.form.get("since"))
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        queue = runtime().queue
        redis = queue.redis if queue is not None else None
        present: list[presence.Present] = []
        if redis is not None:
            presence.report(redis, ticket.id, current_user.id, current_user.name, typing)
            present = presence.others(redis, ticket.id, current_user.id)
        events = db.scalars(
            select(TicketEvent)
            .where(
                TicketEvent.ticket_id == ticket.id,
                TicketEvent.actor_type == "operator",
                TicketEvent.actor_id != current_user.id,
                TicketEvent.created_at > since,
            )
            .order_by(TicketEvent.id)
        )
        answered = [{"name": e.actor_label or "", "action": e.action} for e in events]
    others = [{"name": p.name, "typing": p.typing} for p in present]
    html = render_template("inbox/_presence.html", others=others, answered=answered)
    return {"others": others, "answered": answered, "html": html, "now": f"{utcnow().timestamp():.3f}"}
