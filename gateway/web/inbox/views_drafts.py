"""Complaints citizens started and gave up on: the coordinator sees them and can file one as a ticket.

When a dialogue times out mid-complaint (or the citizen sends STOP), the engine keeps
the unfinished draft (`IncompleteDraft`) so no report is lost silently. This page is
where those drafts are read. A draft that reported an emergency (its ``emergency``
kind, kept by the engine) is shown first and marked. Filing one goes through the
ticket service like a walk-in (the citizen is told the tracking number on their
channel), is audited, and marks the draft as filed so it leaves the list.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from gateway.store.models import Contact, ContactAddress, IncompleteDraft, Ticket
from gateway.tickets import emergency, service
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import actor, audit, runtime
from gateway.web.inbox.auth import roles_required
from gateway.web.inbox.i18n import translate

#: Drafts shown at most (newest first): more than a coordinator reads in a day.
DRAFT_LIMIT = 200
#: The category a draft gets when the citizen had not chosen one.
FALLBACK_CATEGORY = "lainnya"


def draft_description(data: dict[str, Any]) -> str:
    """What the citizen wrote: the description and every remark they added, as a ticket would carry it."""
    parts = [str(data.get("description") or "").strip(), *(str(e).strip() for e in data.get("extras") or [])]
    return "\n".join(p for p in parts if p)


def _address(db: Session, draft: IncompleteDraft) -> ContactAddress | None:
    """The address the citizen wrote from (on the draft's channel), to tell them the tracking number."""
    query = select(ContactAddress).where(ContactAddress.contact_id == draft.contact_id)
    addresses = list(
        db.scalars(query.order_by(ContactAddress.last_inbound_at.desc(), ContactAddress.id.desc()))
    )
    same = [a for a in addresses if a.channel == draft.channel]
    chosen = same or addresses
    return chosen[0] if chosen else None


def _rows(db: Session) -> list[dict[str, Any]]:
    drafts = db.scalars(
        select(IncompleteDraft).order_by(IncompleteDraft.created_at.desc()).limit(DRAFT_LIMIT)
    )
    rows = []
    for draft in drafts:
        data = dict(draft.data or {})
        if data.get("filed_as"):
            continue
        contact = db.get(Contact, draft.contact_id)
        address = _address(db, draft)
        rows.append(
            {
                "draft": draft,
                "data": data,
                "contact": contact,
                "address": address.address if address else None,
                "description": draft_description(data),
                "emergency": data.get("emergency"),
            }
        )
    rows.sort(key=lambda r: 0 if r["emergency"] else 1)  # stable: newest first within each group
    return rows


@inbox_bp.get("/drafts")
@login_required
@roles_required("admin", "coordinator")
def drafts() -> Any:
    with runtime().db.session() as db:
        return render_template("inbox/drafts.html", rows=_rows(db), form=FlaskForm())


@inbox_bp.post("/drafts/<int:draft_id>/ticket")
@login_required
@roles_required("admin", "coordinator")
def draft_to_ticket(draft_id: int) -> Any:
    """File the draft as a ticket for the citizen, through the ticket service, and audit it."""
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    act = actor()
    with runtime().db.session() as db:
        draft = db.get(IncompleteDraft, draft_id)
        if draft is None or (draft.data or {}).get("filed_as"):
            abort(404)
        data = dict(draft.data or {})
        contact = db.get(Contact, draft.contact_id)
        address = _address(db, draft)
        description = draft_description(data) or translate("drafts.no_description")
        category = data.get("category")
        if not category or runtime().catalog.category(str(category)) is None:
            category = FALLBACK_CATEGORY
        privacy = data.get("privacy")
        ticket: Ticket = service.create_ticket(
            db,
            runtime(),
            contact=contact,
            description=description,
            category=str(category),
            location_text=str(data.get("location_text") or "").strip() or None,
            privacy=privacy if privacy in lc.PRIVACY_LEVELS else None,
            privacy_chosen=privacy in lc.PRIVACY_LEVELS,
            channel=address.channel if address else None,
            address=address.address if address else None,
            language=(contact.language if contact is not None and contact.language else "id"),
            source="operator",
            attachments=[a for a in data.get("attachments") or [] if isinstance(a, dict)],
            actor=act,
        )
        if data.get("emergency"):
            emergency.flag(ticket, str(data["emergency"]))
        service.record_filing(ticket, act, from_draft=draft.id)
        draft.data = {**data, "filed_as": ticket.tracking, "filed_by": act.label}
        audit(db, "draft.ticket", ticket, f"draft {draft.id}")
        tracking = ticket.tracking
    flash(translate("drafts.filed", tracking=tracking), "ok")
    return redirect(url_for("inbox.thread", tracking=tracking))
