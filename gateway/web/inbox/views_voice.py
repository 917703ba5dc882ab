"""The citizens' voice on the ticket page (issue 20): the satisfaction rating with its reopen
offer, the likely duplicates with a one-click merge, and the ticket's supporters.

`voice_panel` is a template global read by inbox/_voice.html inside the thread page's
own database session; the merge is a form posted here, carried out by
`gateway.tickets.supporters`.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_login import login_required
from sqlalchemy.orm import object_session

from gateway.tickets import satisfaction, service
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import actor, audit, runtime, ticket_or_404
from gateway.web.inbox.i18n import translate


@inbox_bp.app_template_global()
def voice_panel(ticket: Any) -> dict[str, Any]:
    """What the ticket page shows of ratings, duplicates and supporters for the operator."""
    from gateway.tickets import supporters

    session = object_session(ticket)
    if session is None:
        return {}
    act = actor()
    rating = satisfaction.rating_of(session, ticket)
    city_wide = act.city_wide
    return {
        "rating": rating,
        "offer": bool(
            rating is not None and rating.reopen_offered and ticket.status == "resolved" and city_wide
        ),
        "supporters": supporters.count(session, ticket.id),
        "candidates": supporters.candidates_for(session, runtime(), ticket) if city_wide else [],
        "can_merge": city_wide,
    }


@inbox_bp.post("/t/<tracking>/merge")
@login_required
def merge(tracking: str) -> Any:
    """Merge this ticket into the original named in the form: its reporter becomes a supporter."""
    from gateway.tickets import supporters

    into = (request.form.get("into") or "").strip().lstrip("#")
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        original = ticket_or_404(db, into)
        try:
            with db.begin_nested():
                supporters.merge(db, runtime(), ticket, original, actor())
        except service.TransitionRefused as exc:
            from gateway.web.inbox.views_ticket import refusal_text

            flash(refusal_text(exc), "error")
            return redirect(url_for("inbox.thread", tracking=tracking))
        audit(db, "ticket.merge", ticket, f"#{ticket.tracking} -> #{original.tracking}")
        flash(translate("voice.merged", tracking=original.tracking), "ok")
        return redirect(url_for("inbox.thread", tracking=original.tracking) + "#outcome")
