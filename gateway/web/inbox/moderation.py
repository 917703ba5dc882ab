"""Moderation before publishing: the coordinator's public summary of a complaint.

Citizens write in anger; the redactor (`gateway.privacy.redact`) hides numbers, names it
knows and addresses, but not an accusation against a named official or a detail
only a person sees is identifying. The coordinator can write a shorter public
summary instead. It is kept beside the complaint (``Ticket.data["public_summary"]``,
with who and when), never over it: the record and the agency keep the citizen's
own words. Each change is an internal history row (``public_summary``, with the
previous summary) and an audit entry. Public surfaces show it through
`gateway.web.public.listing.public_description`, still redacted, and only for tickets
`visibility.is_public` allows: a summary never makes a ticket public.
"""

from __future__ import annotations

from typing import Any, Final

from flask import flash, redirect, request, url_for
from flask_login import login_required

from gateway.store.models import TicketEvent, utcnow
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import actor, audit, runtime, ticket_or_404
from gateway.web.inbox.auth import roles_required
from gateway.web.inbox.i18n import translate
from gateway.web.public.listing import PUBLIC_SUMMARY_KEY, public_summary

#: Longest public summary (a summary, not a second complaint).
MAX_SUMMARY: Final = 1000


@inbox_bp.post("/t/<tracking>/public-summary")
@login_required
@roles_required("admin", "coordinator")
def set_public_summary(tracking: str) -> Any:
    text = " ".join((request.form.get("text") or "").split())
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        back = redirect(url_for("inbox.thread", tracking=ticket.tracking) + "#public-summary")
        if len(text) > MAX_SUMMARY:
            flash(translate("moderation.too_long", max=MAX_SUMMARY), "error")
            return back
        previous = public_summary(ticket)
        if (text or None) == previous:
            return back
        act = actor()
        data = dict(ticket.data or {})
        if text:
            data[PUBLIC_SUMMARY_KEY] = {"text": text, "by": act.label, "at": utcnow().isoformat()}
        else:
            data.pop(PUBLIC_SUMMARY_KEY, None)
        ticket.data = data
        db.add(
            TicketEvent(
                ticket_id=ticket.id,
                action="public_summary",
                from_status=ticket.status,
                to_status=ticket.status,
                actor_type="operator",
                actor_id=act.id,
                actor_label=act.label,
                note=text or None,
                internal=True,
                data={"previous": previous, "summary": text or None},
            )
        )
        audit(db, "ticket.public_summary", ticket, text or "(cleared)")
        flash(translate("moderation.saved" if text else "moderation.cleared"), "ok")
        return back
