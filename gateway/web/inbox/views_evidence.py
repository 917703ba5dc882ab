"""The evidence form of a ticket: a reply or a resolution with photos or a PDF attached.

The text goes the way every reply or resolution goes (`service.operator_reply`,
`service.transition`), so the lifecycle rules, the agency boundary and the
citizen's STOP are the service's; the files then follow as their own messages
(`gateway.web.inbox.evidence`). A refused file refuses the whole form before any of
it is sent: the operator fixes the upload and sends again.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Length, Optional

from conversations import lifecycle as lc
from gateway.tickets import service
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import actor, audit, runtime, ticket_or_404
from gateway.web.inbox.evidence import EvidenceRefused, accept, request_limit, send_evidence
from gateway.web.inbox.i18n import translate

ENDPOINT = "inbox.evidence"


class EvidenceForm(FlaskForm):
    text = TextAreaField(validators=[Optional(), Length(max=service.MAX_TEXT)])
    resolve = BooleanField()


def raise_upload_limit() -> None:
    """Let the evidence form's request be larger than the app's limit (photos are megabytes).

    Registered on the app before CSRF protection, which reads the form first.
    """
    if request.endpoint == ENDPOINT:
        request.max_content_length = request_limit(runtime())


@inbox_bp.post("/t/<tracking>/evidence")
@login_required
def evidence(tracking: str) -> Any:
    from gateway.web.inbox.views_ticket import _form_errors, _refused, thread

    form = EvidenceForm()
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        back = redirect(url_for("inbox.thread", tracking=ticket.tracking) + "#actions")
        try:
            files = accept(runtime(), request.files.getlist("files"))
        except EvidenceRefused as exc:
            flash(translate(f"evidence.{exc.key}", **exc.params), "error")
            files = None
        if files is None or not form.validate_on_submit() or (files == [] and not form.resolve.data):
            if files == []:
                flash(translate("evidence.no_files"), "error")
            _form_errors(form)
            refused = True
        else:
            refused = False
    if refused:
        page, _ok = thread(tracking)  # the ticket page, with the reason beside the form
        return page, 400
    assert files is not None
    text = (form.text.data or "").strip()
    nonce = (request.form.get("nonce") or "").strip()[:64] or uuid.uuid4().hex
    act = actor()
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        language = ticket.language or "id"
        try:
            with db.begin_nested():
                if form.resolve.data:
                    service.transition(db, runtime(), ticket, lc.RESOLVE, act, note=text or None)
                elif text:
                    service.operator_reply(
                        db, runtime(), ticket, act, text, dedupe_key=f"inbox-evidence:{ticket.id}:{nonce}"
                    )
        except service.TransitionRefused as exc:
            _refused(exc)
            return back
        sent = send_evidence(
            db,
            runtime(),
            ticket,
            act,
            files,
            nonce=nonce,
            caption=lambda index, total, link: translate(
                "evidence.caption", language, tracking=ticket.tracking, index=index, total=total, link=link
            ),
        )
        audit(
            db, "ticket.evidence", ticket, f"{len(sent)} file(s)" + (", resolve" if form.resolve.data else "")
        )
        if files and not sent:
            flash(translate("evidence.not_sent"), "error")
        elif files:
            flash(translate("evidence.sent", count=len(sent)), "ok")
        else:
            flash(translate("flash.action_done", action=translate(f"action.{lc.RESOLVE}")), "ok")
    return back
