"""One ticket: its thread, its actions, its photos, and filing a walk-in or phone complaint.

Every change goes through the ticket service (gateway/tickets/service.py), which
owns the lifecycle rules and refuses what the operator may not do; this module
only turns forms into service calls, shows the answer, and audits the action.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from adapters.common import normalize_phone
from conversations import lifecycle as lc
from conversations.notify import render_operator_reply
from conversations.snapshot import ConfigSnapshot
from gateway.attachments.store import media_backend
from gateway.store.models import Agency, CannedResponse, Message, Operator, Ticket, TicketEvent
from gateway.tickets import policy, reply_budget, service, visibility
from gateway.web.bounds import parse_id
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import actor, audit, reveals_reporter, runtime, ticket_or_404, visible_tickets
from gateway.web.inbox.auth import roles_required
from gateway.web.inbox.filters import ListFilter, list_query
from gateway.web.inbox.forms import (
    MAX_TEXT,
    ActionForm,
    AssignForm,
    CategoryForm,
    NoteForm,
    PrivacyForm,
    ReplyForm,
    WalkInForm,
)
from gateway.web.inbox.i18n import current_language, has_text, translate
from gateway.web.inbox.views_list import reporter_label
from gateway.web.media import media_response

#: Events already shown another way in the timeline (a reply appears as its outbound message).
HIDDEN_EVENTS = frozenset({"reply"})


@dataclass
class TimelineItem:
    at: datetime
    kind: str  # message | event
    message: Message | None = None
    event: TicketEvent | None = None
    #: An operator's reply: who sent it (the reply event's label, as the history shows it) and its
    #: text without the "Balasan petugas (#...):" label the citizen gets, which the page shows itself.
    sender: str | None = None
    body: str | None = None


def _thread_messages(db: Session, ticket: Ticket) -> list[Message]:
    ids = service.thread_message_ids(ticket)
    condition = Message.ticket_id == ticket.id
    if ids and ticket.contact_id is not None:
        own = and_(Message.id.in_(ids), Message.contact_id == ticket.contact_id)
        condition = or_(condition, own)
    return list(db.scalars(select(Message).where(condition).order_by(Message.created_at, Message.id)))


def reply_body(config: ConfigSnapshot, ticket: Ticket, text: str) -> str:
    """``text`` of an operator's reply without the label the citizen reads before it, in either language."""
    for language in ("id", "en"):
        head = render_operator_reply(config, ticket.tracking, "\x00", language, len(text) + 200).split(
            "\x00"
        )[0]
        if head and text.startswith(head):
            return text[len(head) :]
    return text


def timeline(db: Session, ticket: Ticket) -> list[TimelineItem]:
    """Messages from every channel and the ticket's history, in the order they happened."""
    events = service.history(ticket, actor())
    senders = {
        int(e.data["message_id"]): e.actor_label
        for e in events
        if e.action == "reply" and isinstance(e.data, dict) and isinstance(e.data.get("message_id"), int)
    }
    config = runtime().config
    items = []
    for m in _thread_messages(db, ticket):
        item = TimelineItem(m.created_at, "message", message=m)
        if m.author == "operator":
            item.sender = senders.get(m.id)
            item.body = reply_body(config, ticket, m.text or "")
        items.append(item)
    items += [TimelineItem(e.created_at, "event", event=e) for e in events if e.action not in HIDDEN_EVENTS]
    items.sort(key=lambda item: (item.at, 0 if item.kind == "message" else 1))
    return items


def _is_my_turn(ticket: Ticket) -> bool:
    """Whether the viewer is who should read new citizen messages (clears the "new" mark)."""
    if current_user.agency_scoped:
        return ticket.agency_id == current_user.agency_id
    return ticket.status in lc.PRE_DISPATCH_STATUSES or ticket.agency is None or ticket.agency.is_coordinator


def _forms(db: Session, ticket: Ticket) -> dict[str, Any]:
    act = actor()
    action_form = ActionForm(formdata=None)
    agencies = list(db.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.name)))
    action_form.agency.choices = [(a.code, a.name) for a in agencies if not a.is_coordinator]
    if ticket.agency is not None and not ticket.agency.is_coordinator:
        action_form.agency.data = ticket.agency.code
    action_form.reason.choices = [(r, translate(f"archive_reason.{r}")) for r in lc.ARCHIVE_REASONS]
    operators_q = select(Operator).where(Operator.active.is_(True)).order_by(Operator.name)
    if current_user.agency_scoped:
        operators_q = operators_q.where(Operator.agency_id == current_user.agency_id)
    elif ticket.agency_id is not None:
        operators_q = operators_q.where(
            or_(Operator.agency_id == ticket.agency_id, Operator.role.in_(("admin", "coordinator")))
        )
    assign_form = AssignForm()
    assign_form.operator_id.choices = [("", translate("ticket.nobody"))] + [
        (str(o.id), o.name) for o in db.scalars(operators_q)
    ]
    assign_form.operator_id.data = str(ticket.assigned_operator_id or "")
    category_form = CategoryForm()
    category_form.category.choices = [
        (c.code, c.name(current_language())) for c in runtime().catalog.categories
    ]
    category_form.category.data = ticket.category
    privacy_form = PrivacyForm()
    privacy_form.privacy.choices = [(p, translate(f"privacy.{p}")) for p in lc.PRIVACY_LEVELS]
    privacy_form.privacy.data = ticket.privacy
    canned = list(db.scalars(select(CannedResponse).order_by(CannedResponse.code)))
    return {
        # Not bound to the request: a refused reply re-renders the page, and its text must not
        # land in the note's box (both fields are called "text").
        "reply_form": ReplyForm(formdata=None),
        "note_form": NoteForm(formdata=None),
        "action_form": action_form,
        "assign_form": assign_form,
        "category_form": category_form,
        "privacy_form": privacy_form,
        "actions": lc.allowed_actions(
            ticket.status,
            act.role,
            own_agency=act.agency_id is not None and act.agency_id == ticket.agency_id,
            closed=ticket.closed_at is not None,
        ),
        "canned": canned,
        "reply_nonce": uuid.uuid4().hex,
    }


def _deadline_info(ticket: Ticket) -> dict[str, Any]:
    today = policy.today(runtime())
    late = bool(
        ticket.overdue
        or (ticket.deadline is not None and ticket.deadline < today and ticket.status in lc.OPEN_STATUSES)
    )
    return {"deadline": ticket.deadline, "late": late, "today": today}


@inbox_bp.get("/t/<tracking>")
@login_required
def thread(tracking: str) -> Any:
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        if visibility.is_confidential(ticket):
            audit(db, "ticket.view", ticket, "confidential")
        if ticket.has_unread and _is_my_turn(ticket):
            ticket.has_unread = False
        return _thread_page(db, ticket)


#: How far down its list a ticket's "next" is looked for (ids only; far beyond a working day's list).
NEXT_SCAN_LIMIT = 5000


def next_in_list(db: Session, flt: ListFilter, ticket: Ticket) -> str | None:
    """The ticket after ``ticket`` in the list the operator came from (same tab, filters and order);
    the list's first one when this ticket has left it (an action moved it to another tab)."""
    query = list_query(visible_tickets(), flt, current_user.id, visibility.reveals_reporter_clause(actor()))
    trackings = list(db.scalars(query.with_only_columns(Ticket.tracking).limit(NEXT_SCAN_LIMIT)))
    if ticket.tracking in trackings:
        position = trackings.index(ticket.tracking)
        return trackings[position + 1] if position + 1 < len(trackings) else None
    return trackings[0] if trackings else None


def _thread_page(db: Session, ticket: Ticket, status: int = 200, **overrides: Any) -> Any:
    """The ticket page; a refused form comes back through here with what was typed (``overrides``)."""
    reveal = reveals_reporter(ticket)
    assignee = db.get(Operator, ticket.assigned_operator_id) if ticket.assigned_operator_id else None
    refused_action = overrides.pop("refused_action", None)
    refused_note = overrides.pop("refused_note", "")
    forms = _forms(db, ticket) | overrides
    flt = ListFilter.from_args(request.args)
    budget = reply_budget.measure(runtime(), ticket, forms["reply_form"].text.data or "")
    page = render_template(
        "inbox/thread.html",
        ticket=ticket,
        items=timeline(db, ticket),
        reveal=reveal,
        reporter=reporter_label(ticket, reveal),
        assignee=assignee,
        reply_budget=budget,
        reply_counter=counter_text(budget),
        refused_action=refused_action,
        refused_note=refused_note,
        list_args=flt.args(page=flt.page),
        next_tracking=next_in_list(db, flt, ticket),
        **_deadline_info(ticket),
        **forms,
    )
    return page, status


@inbox_bp.get("/t/<tracking>/timeline")
@login_required
def thread_timeline(tracking: str) -> Any:
    """The timeline alone, for polling: new messages and delivery statuses appear without a reload."""
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        reveal = reveals_reporter(ticket)
        return render_template(
            "inbox/_timeline.html",
            ticket=ticket,
            items=timeline(db, ticket),
            reveal=reveal,
            reporter=reporter_label(ticket, reveal),
        )


def _back(tracking: str) -> Any:
    """Back to the ticket after an action, keeping the list the operator came from; the anchor lands
    on the outcome (``#outcome``), which the page shows at the top of its actions column (on a
    phone: right under the summary), not at the top of the page scrolled out of view."""
    flt = ListFilter.from_args(request.args)
    return redirect(url_for("inbox.thread", tracking=tracking, **flt.args(page=flt.page)) + "#outcome")


#: Refusal params that are codes, and the catalog section that names them in the operator's
#: language ("in_progress" -> "Sedang Diproses"); lists (from_statuses...) are named one by one.
REFUSAL_PARAM_LABELS: Final[Mapping[str, str]] = {
    "status": "status",
    "wanted_status": "status",
    "from_statuses": "status",
    "role": "role",
    "action": "action",
    "field": "field",
    "privacy": "privacy",
    "wanted_privacy": "privacy",
    "privacy_levels": "privacy",
    "reason": "archive_reason",
    "reasons": "archive_reason",
}


def _label(section: str, code: Any) -> str:
    """The name of ``code`` in ``section``; an unknown code (what the refusal is about) shows as typed."""
    key = f"{section}.{code}"
    return translate(key) if has_text(key) else str(code)


def refusal_text(exc: service.TransitionRefused) -> str:
    """The refusal as one sentence in the operator's language.

    The lifecycle and the service keep their English ``message`` for the API; the
    inbox shows ``refusal.<key>`` with its codes named as the inbox names them
    elsewhere. A refusal whose key has no text yet falls back to the code's generic
    sentence with the English message, so a gap in the catalog is visible, not lost.
    """
    key = f"refusal.{exc.key}" if exc.key else None
    if key is None or not has_text(key):
        return translate(f"refused.{exc.code}", detail=exc.message)
    params: dict[str, Any] = {}
    for name, value in exc.params.items():
        section = REFUSAL_PARAM_LABELS.get(name)
        if section is None:
            params[name] = value
        elif isinstance(value, (list, tuple, set, frozenset)):
            params[name] = ", ".join(_label(section, item) for item in value)
        else:
            params[name] = _label(section, value)
    return translate(key, **params)


def _refused(exc: service.TransitionRefused) -> None:
    flash(refusal_text(exc), "error")


def _form_errors(form: Any) -> None:
    for field, errors in form.errors.items():
        label = translate(f"field.{field}")
        for error in errors:
            flash(f"{label}: {error}", "error")


#: A reply that starts like a canned-response code: "/code" then a space or the end.
CANNED_CODE = re.compile(r"^/([A-Za-z0-9_-]{1,32})(?:\s|$)")


class UnknownCanned(Exception):
    """A reply started with ``/code`` and no canned response has that code."""

    def __init__(self, code: str, codes: list[str]) -> None:
        super().__init__(code)
        self.code = code
        self.codes = codes

    def text(self) -> str:
        if not self.codes:
            return translate("thread.unknown_canned_none", code=self.code)
        codes = ", ".join(f"/{c}" for c in self.codes)
        return translate("thread.unknown_canned", code=self.code, codes=codes)


def _expand_canned(db: Session, text: str, language: str) -> str:
    """``/code`` at the start of a reply becomes that canned response (in the ticket's language if any).

    A code nobody defined is refused (`UnknownCanned`): a typo such as ``/tidakada``
    would otherwise reach the citizen as it was typed.
    """
    stripped = text.strip()
    match = CANNED_CODE.match(stripped)
    if match is None:
        return text
    code = match.group(1).lower()
    rest = stripped[match.end() :]
    rows = list(db.scalars(select(CannedResponse).where(CannedResponse.code == code)))
    if not rows:
        codes = sorted(set(db.scalars(select(CannedResponse.code))))
        raise UnknownCanned(code, codes)
    chosen = next((r for r in rows if r.language == language), rows[0])
    return chosen.text + (f"\n{rest.strip()}" if rest.strip() else "")


def counter_text(budget: reply_budget.ReplyBudget) -> str:
    """The reply counter's line, in the operator's language (the page and the live counter share it)."""
    if budget.sms:
        key = "thread.counter_sms" if budget.fits else "thread.counter_over_sms"
        return translate(
            key,
            characters=budget.characters,
            segments=budget.segments,
            max_segments=budget.max_segments,
            encoding=translate(f"thread.encoding_{budget.encoding}"),
        )
    key = "thread.counter_chars" if budget.fits else "thread.counter_over_chars"
    return translate(key, characters=budget.characters, max=budget.max_characters)


@inbox_bp.post("/t/<tracking>/reply-budget.json")
@login_required
def reply_budget_json(tracking: str) -> Any:
    """The live counter under the reply box: the text as it would be sent, measured by the same
    rule that refuses a reply (`gateway.tickets.reply_budget`), so the two can never disagree."""
    text = (request.form.get("text") or "")[: 4 * MAX_TEXT]
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        try:
            body = _expand_canned(db, text, ticket.language or "id")
        except UnknownCanned:
            body = text
        budget = reply_budget.measure(runtime(), ticket, body)
        return {**budget.as_json(), "label": counter_text(budget)}


def _post_form(
    tracking: str,
    form: Any,
    change: Callable[[Session, Ticket], str | None],
    *,
    done: Callable[[], str],
    audit_as: str | None,
    valid: Callable[[], bool] | None = None,
    refused: Callable[[Session, Ticket], Any] | None = None,
    then: Callable[[Ticket], Any] | None = None,
) -> Any:
    """The one skeleton of the thread page's forms: load the ticket the operator may see, check
    the form, let the service make the change, audit it, say so, and go back to the ticket.

    ``change`` calls the service and answers the audit detail; `service.TransitionRefused` (and
    `UnknownCanned` from a reply) come back to the operator as ``refused`` answers (by default the
    ticket again, the reason flashed). ``audit_as`` None: the service audits the change itself.
    ``valid`` checks what the form itself cannot; ``then`` replaces the way back to the ticket.
    """
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        refuse = refused or (lambda _db, t: _back(t.tracking))
        if not form.validate_on_submit() or (valid is not None and not valid()):
            _form_errors(form)
            return refuse(db, ticket)
        try:
            detail = change(db, ticket)
        except service.TransitionRefused as exc:
            _refused(exc)
            return refuse(db, ticket)
        except UnknownCanned as exc:
            flash(exc.text(), "error")
            return refuse(db, ticket)
        if audit_as is not None:
            audit(db, audit_as, ticket, detail)
        flash(done(), "ok")
        return then(ticket) if then is not None else _back(ticket.tracking)


@inbox_bp.post("/t/<tracking>/reply")
@login_required
def reply(tracking: str) -> Any:
    """Queue a reply; a refused one comes back (400) with the text still in the box and the reason
    beside it, never thrown away."""
    form = ReplyForm()

    def send(db: Session, ticket: Ticket) -> str:
        nonce = (request.form.get("nonce") or "").strip()[:64] or uuid.uuid4().hex
        text = _expand_canned(db, form.text.data, ticket.language or "id")
        message = service.operator_reply(
            db, runtime(), ticket, actor(), text, dedupe_key=f"inbox-reply:{ticket.id}:{nonce}"
        )
        return f"message {message.id}"

    return _post_form(
        tracking,
        form,
        send,
        done=lambda: translate("flash.reply_queued"),
        audit_as="ticket.reply",
        refused=lambda db, ticket: _thread_page(db, ticket, 400, reply_form=form, reply_refused=True),
    )


@inbox_bp.post("/t/<tracking>/note")
@login_required
def note(tracking: str) -> Any:
    form = NoteForm()

    def add(db: Session, ticket: Ticket) -> None:
        service.add_note(db, runtime(), ticket, actor(), form.text.data)

    return _post_form(
        tracking,
        form,
        add,
        done=lambda: translate("flash.note_added"),
        audit_as="ticket.note",
        refused=lambda db, ticket: _thread_page(db, ticket, 400, note_form=form),
    )


@inbox_bp.post("/t/<tracking>/action")
@login_required
def action(tracking: str) -> Any:
    form = ActionForm()
    name = form.action.data
    kept = {"refused_action": name, "refused_note": form.note.data or ""}

    def apply(db: Session, ticket: Ticket) -> str | None:
        args: dict[str, Any] = {"note": (form.note.data or "").strip() or None}
        if name == lc.DISPOSE:
            args["agency"] = form.agency.data or None
        if name == lc.ARCHIVE:
            args["reason"] = form.reason.data or None
            args["duplicate_of"] = (form.duplicate_of.data or "").strip() or None
        with db.begin_nested():
            service.transition(db, runtime(), ticket, name, actor(), **args)
        return args["note"]

    def back(ticket: Ticket) -> Any:
        if not visibility.can_see(actor(), ticket):
            # "Bukan wewenang" hands the ticket back: the agency no longer sees it.
            flt = ListFilter.from_args(request.args)
            return redirect(url_for("inbox.tickets", **flt.args(page=flt.page)))
        return _back(ticket.tracking)

    return _post_form(
        tracking,
        form,
        apply,
        done=lambda: translate("flash.action_done", action=translate(f"action.{name}")),
        audit_as=f"ticket.{name}",
        refused=lambda db, ticket: _thread_page(db, ticket, 400, **kept),
        then=back,
    )


@inbox_bp.post("/t/<tracking>/assign")
@login_required
def assign(tracking: str) -> Any:
    raw = request.form.get("operator_id", "")
    operator_id = parse_id(raw)
    form = AssignForm()
    form.operator_id.choices = [(raw, raw)]

    def give(db: Session, ticket: Ticket) -> str:
        service.assign(db, runtime(), ticket, actor(), operator_id)
        return raw or "-"

    return _post_form(
        tracking,
        form,
        give,
        done=lambda: translate("flash.assigned"),
        audit_as="ticket.assign",
        valid=lambda: not (raw and operator_id is None),
    )


@inbox_bp.post("/t/<tracking>/category")
@login_required
def category(tracking: str) -> Any:
    form = CategoryForm()
    form.category.choices = [(c.code, c.code) for c in runtime().catalog.categories]

    def change(db: Session, ticket: Ticket) -> str:
        service.change_category(db, runtime(), ticket, actor(), form.category.data)
        return str(form.category.data)

    return _post_form(
        tracking, form, change, done=lambda: translate("flash.category_changed"), audit_as="ticket.category"
    )


@inbox_bp.post("/t/<tracking>/privacy")
@login_required
def privacy(tracking: str) -> Any:
    form = PrivacyForm()
    form.privacy.choices = [(p, p) for p in lc.PRIVACY_LEVELS]

    def change(db: Session, ticket: Ticket) -> None:
        consent = bool(form.citizen_consent.data)
        service.set_privacy(db, runtime(), ticket, actor(), form.privacy.data, citizen_consent=consent)

    # The service writes its own audit entry for privacy changes.
    return _post_form(tracking, form, change, done=lambda: translate("flash.privacy_changed"), audit_as=None)


@inbox_bp.get("/media/<int:message_id>/<int:index>")
@login_required
def media(message_id: int, index: int) -> Any:
    """A stored file of a message, only for an operator who may see the message's ticket.

    Served by the same builder as ``/media/`` (`gateway.web.media.media_response`): typed
    by its content, anything off the allowlist only as a download, sandboxed.
    """
    with runtime().db.session() as db:
        message = db.get(Message, message_id)
        if message is None:
            abort(404)
        ticket = db.get(Ticket, message.ticket_id) if message.ticket_id else None
        if ticket is None:
            ticket = (
                db.scalar(
                    select(Ticket).where(Ticket.contact_id == message.contact_id).order_by(Ticket.id.desc())
                )
                if message.contact_id
                else None
            )
            if ticket is None or message.id not in service.thread_message_ids(ticket):
                abort(404)
        if not visibility.can_see(actor(), ticket):
            abort(404)
        attachments = message.attachments or []
        if index < 0 or index >= len(attachments):
            abort(404)
        stored = attachments[index].get("stored_path")
        if not isinstance(stored, str):
            abort(404)
    return media_response(media_backend(runtime().settings), stored)


# --------------------------------------------------------------------------- walk-in and phone complaints
def _update_channels() -> list[tuple[str, str]]:
    enabled = set(runtime().enabled_channels())
    options = [("none", translate("walkin.updates_none"))]
    if enabled & {"sms", "twilio"}:
        options.append(("sms", "SMS"))
    if enabled & {"whatsapp", "twilio"}:
        options.append(("whatsapp", "WhatsApp"))
    return options


def _address_for(updates: str, phone: str) -> tuple[str, str] | None:
    """(channel, address) the updates go to: SMS via the aggregator first, WhatsApp via Cloud API first."""
    number = normalize_phone(phone)
    if number is None or updates == "none":
        return None
    enabled = set(runtime().enabled_channels())
    if updates == "sms":
        channel = "sms" if "sms" in enabled else "twilio"
        return channel, f"tel:{number}"
    channel = "whatsapp" if "whatsapp" in enabled else "twilio"
    return channel, f"whatsapp:{number}"


def _dispose_to_own_desk(db: Session, ticket: Ticket, act: service.Actor) -> None:
    """A complaint taken at an agency's own desk goes to that agency, verified by the person who took it.

    Otherwise the agency operator who just typed it in lost it at once (it waited for the
    coordinator, where the agency cannot see it: a 404 right after "dicatat"). Agencies may not
    dispose in the lifecycle, so the disposition itself is the system's, labelled with the person,
    and the person verifies it (`service.mark_verified`), as a coordinator's disposition would.
    """
    own = db.get(Agency, act.agency_id) if act.agency_id is not None else None
    if own is None or own.is_coordinator or not own.active:
        return
    desk = service.Actor.system(f"{act.label} · {translate('walkin.own_desk')}")
    service.transition(db, runtime(), ticket, lc.DISPOSE, desk, agency=own.code)
    service.mark_verified(ticket, act, lc.DISPOSE)


def _walk_in_form() -> WalkInForm:
    """The desk's form with this deployment's channels, categories and privacy levels to choose from."""
    form = WalkInForm()
    form.updates.choices = _update_channels()
    form.category.choices = [(c.code, c.name(current_language())) for c in runtime().catalog.categories]
    form.privacy.choices = [(p, translate(f"privacy.{p}")) for p in lc.PRIVACY_LEVELS]
    if request.method == "GET":
        form.privacy.data = lc.DEFAULT_PRIVACY
        form.language.data = current_language()
    return form


def _file_walk_in(form: WalkInForm) -> tuple[str, bool]:
    """File the complaint through the ticket service: its tracking number, and whether the operator
    still sees it (an agency's own desk disposes it to itself; otherwise it waits for verification)."""
    from gateway.messages.ingest import find_or_create_contact

    target = _address_for(form.updates.data, form.phone.data or "")
    with runtime().db.session() as db:
        contact = None
        if target is not None:
            name = (form.name.data or "").strip() or None
            contact, _address = find_or_create_contact(db, target[1], target[0], name, form.language.data)
        act = actor()
        ticket = service.create_ticket(
            db,
            runtime(),
            contact=contact,
            description=form.description.data.strip(),
            category=form.category.data,
            location_text=(form.location.data or "").strip() or None,
            privacy=form.privacy.data,
            privacy_chosen=True,
            channel=target[0] if target else None,
            address=target[1] if target else None,
            language=form.language.data or "id",
            source="operator",
            actor=act,
        )
        service.record_filing(ticket, act, consent=bool(target is not None and form.consent.data))
        if act.agency_bound and ticket.status == lc.UNVERIFIED:
            _dispose_to_own_desk(db, ticket, act)
        audit(db, "ticket.walk_in", ticket, form.updates.data)
        return ticket.tracking, visibility.can_see(act, ticket)


@inbox_bp.route("/new", methods=["GET", "POST"])
@login_required
@roles_required("admin", "coordinator", "agency")
def walk_in() -> Any:
    """File a complaint made in person or by phone; it then behaves like any other ticket."""
    form = _walk_in_form()
    if form.validate_on_submit():
        tracking, visible = _file_walk_in(form)
        flash(translate("flash.walk_in_filed", tracking=tracking), "ok")
        if visible:
            return redirect(url_for("inbox.thread", tracking=tracking))
        return redirect(url_for("inbox.tickets"))
    if request.method == "POST":
        _form_errors(form)
    return render_template("inbox/walk_in.html", form=form), 400 if request.method == "POST" else 200
