"""The dashboard, the audit log, the admin pages (operators, canned responses, agencies) and
merging two contacts that are one citizen."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from conversations import lifecycle as lc
from gateway.store.models import Agency, AuditEntry, CannedResponse, Operator, Ticket
from gateway.tickets import service, visibility
from gateway.web.bounds import EARLIEST, LATEST, parse_day, parse_id
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import actor, audit, runtime, ticket_or_404
from gateway.web.inbox.auth import roles_required
from gateway.web.inbox.forms import AgencyForm, CannedForm, NewPasswordForm, OperatorForm
from gateway.web.inbox.i18n import current_language, translate
from gateway.web.inbox.passwords import MIN_PASSWORD_LENGTH, hash_password

#: Days the dashboard covers when no period is chosen.
DEFAULT_PERIOD_DAYS = 30
#: Audit rows per page.
AUDIT_PAGE = 100


def _days_asked() -> tuple[dict[str, date], str | None]:
    """The ``since``/``until`` days of the query, and the error to show for one that is no day.

    A bad day is said, never silently dropped: the operator would otherwise read
    figures for a period they did not ask for.
    """
    days: dict[str, date] = {}
    for name in ("since", "until"):
        value = (request.args.get(name) or "").strip()
        if not value:
            continue
        try:
            days[name] = parse_day(value, name)
        except ValueError:
            return {}, translate(
                "form.bad_date",
                field=translate(f"dash.{name}"),
                value=value[:40],
                earliest=EARLIEST,
                latest=LATEST,
            )
    return days, None


def _period(days: dict[str, date]) -> tuple[date, date]:
    from gateway.tickets import policy

    until = days.get("until") or policy.today(runtime())
    since = days.get("since") or until - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if since > until:
        since, until = until, since
    return since, until


def _utc_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    from gateway.tickets import policy

    zone = ZoneInfo(policy.timezone(runtime()))
    start = datetime.combine(since, time.min, zone)
    end = datetime.combine(until + timedelta(days=1), time.min, zone)
    return start, end


def _overdue_by(db: Any, column: Any, start: datetime, end: datetime, scope: Any) -> dict[Any, int]:
    """Overdue open tickets per ``column`` among those ``scope`` (the operator's visibility) allows."""
    query = (
        select(column, func.count(Ticket.id))
        .where(scope)
        .where(Ticket.overdue.is_(True), Ticket.status.in_(tuple(lc.OPEN_STATUSES)))
        .where(Ticket.created_at >= start, Ticket.created_at < end)
        .group_by(column)
    )
    return {key: int(count) for key, count in db.execute(query)}


@inbox_bp.get("/dashboard")
@login_required
def dashboard() -> Any:
    """The figures a city reports, for the chosen period; an agency operator sees their agency's."""
    from gateway.tickets.statistics import stats_for

    days, date_error = _days_asked()
    since, until = _period(days)
    start, end = _utc_bounds(since, until)
    act = actor()
    scope = visibility.visible_clause(act)  # an agency counts what its list shows, no more
    with runtime().db.session() as db:
        figures = stats_for(runtime(), db, actor=act, since=start, until=end, language=current_language())
        codes = {a.id: a.code for a in db.scalars(select(Agency))}
        by_agency_id = _overdue_by(db, Ticket.agency_id, start, end, scope)
        overdue_agency = {codes.get(k): v for k, v in by_agency_id.items()}
        overdue_channel = _overdue_by(db, Ticket.channel, start, end, scope)
    for row in figures["agencies"]:
        row["overdue"] = overdue_agency.get(row["code"], 0)
    for row in figures["channels"]:
        row["overdue"] = overdue_channel.get(row["code"], 0)
    figures["overdue"] = sum(overdue_channel.values())
    largest = max([r["total"] for r in figures["agencies"] + figures["channels"]] + [1])
    page = render_template(
        "inbox/dashboard.html",
        f=figures,
        since=since,
        until=until,
        largest=largest,
        date_error=date_error,
        sms=_sms_costs() if act.role == "admin" else None,
    )
    return page, 400 if date_error else 200


def _sms_costs() -> dict[str, Any]:
    """SMS segments per channel for the last three months and this month's cap, for admins
    (the city pays per segment; see gateway.messages.sms_budget)."""
    from gateway.messages import sms_budget

    with runtime().db.session() as db:
        current = sms_budget.budget(runtime(), db)
        months = [
            (m, current.by_channel if m == current.month else sms_budget.usage(runtime(), db, m))
            for m in sms_budget.recent_months()
        ]
    channels = sorted({c for _m, counts in months for c in counts} | {"sms"})
    return {"current": current, "months": months, "channels": channels}


# --------------------------------------------------------------------------- audit log
@inbox_bp.get("/admin/audit")
@login_required
@roles_required("admin")
def audit_log() -> Any:
    operator = request.args.get("operator", "").strip()
    action_prefix = request.args.get("action", "").strip()[:64]
    tracking = request.args.get("tracking", "").strip().lstrip("#")[:16]
    days, date_error = _days_asked()
    since, until = days.get("since"), days.get("until")
    page = parse_id(request.args.get("page")) or 1
    query = (
        select(AuditEntry, Operator.name, Ticket.tracking)
        .outerjoin(Operator, AuditEntry.operator_id == Operator.id)
        .outerjoin(Ticket, AuditEntry.ticket_id == Ticket.id)
    )
    operator_id = parse_id(operator)
    if operator_id is not None:
        query = query.where(AuditEntry.operator_id == operator_id)
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    if tracking:
        query = query.where(Ticket.tracking == tracking)
    if since or until:
        start, end = _utc_bounds(since or EARLIEST, until or LATEST)
        query = query.where(AuditEntry.created_at >= start, AuditEntry.created_at < end)
    query = query.order_by(AuditEntry.id.desc()).offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE + 1)
    with runtime().db.session() as db:
        rows = db.execute(query).all()
        operators = list(db.scalars(select(Operator).order_by(Operator.name)))
    html = render_template(
        "inbox/audit.html",
        date_error=date_error,
        rows=rows[:AUDIT_PAGE],
        more=len(rows) > AUDIT_PAGE,
        page=page,
        operators=operators,
        args=request.args,
        prev_args={**request.args.to_dict(), "page": page - 1},
        next_args={**request.args.to_dict(), "page": page + 1},
    )
    return html, 400 if date_error else 200


# --------------------------------------------------------------------------- operators
@inbox_bp.route("/admin/operators", methods=["GET", "POST"])
@login_required
@roles_required("admin")
def operators() -> Any:
    form = OperatorForm()
    with runtime().db.session() as db:
        agencies = list(db.scalars(select(Agency).order_by(Agency.name)))
        form.agency.choices = [("", "-")] + [(str(a.id), a.name) for a in agencies]
        form.role.choices = [(r, translate(f"role.{r}")) for r in ("agency", "coordinator", "admin")]
        if form.validate_on_submit():
            row = Operator(
                email=form.email.data.strip().lower(),
                name=form.name.data.strip(),
                password_hash=hash_password(form.password.data),
                role=form.role.data,
                agency_id=int(form.agency.data) if form.agency.data else None,
                language=form.language.data,
            )
            try:
                with db.begin_nested():
                    db.add(row)
                    db.flush()
            except IntegrityError:
                form.email.errors = [*form.email.errors, translate("admin.email_taken")]
            else:
                audit(db, "admin.operator_create", detail=f"{row.email} ({row.role})")
                flash(translate("flash.saved"), "ok")
                return redirect(url_for("inbox.operators"))
        rows = list(db.scalars(select(Operator).order_by(Operator.role, Operator.name)))
        names = {a.id: a.name for a in agencies}
        status = 400 if request.method == "POST" else 200
        return render_template("inbox/operators.html", form=form, rows=rows, names=names), status


@inbox_bp.post("/admin/operators/<int:operator_id>/active")
@login_required
@roles_required("admin")
def operator_active(operator_id: int) -> Any:
    with runtime().db.session() as db:
        row = db.get(Operator, operator_id)
        if row is None:
            abort(404)
        if row.id == current_user.id:
            flash(translate("admin.not_yourself"), "error")
            return redirect(url_for("inbox.operators"))
        row.active = not row.active
        audit(db, "admin.operator_active", detail=f"{row.email} active={row.active}")
    flash(translate("flash.saved"), "ok")
    return redirect(url_for("inbox.operators"))


@inbox_bp.route("/admin/operators/<int:operator_id>/password", methods=["GET", "POST"])
@login_required
@roles_required("admin")
def operator_password(operator_id: int) -> Any:
    """An admin sets a new password for another operator (forgotten, or rotated after someone left).

    Admins manage every operator account (the role is city-wide), so any other
    operator is in scope. Their own password goes through the account page,
    which asks for the current one. The operator's sessions end at their next
    request (see `gateway.web.inbox.auth.password_stamp`).
    """
    if operator_id == current_user.id:
        return redirect(url_for("inbox.account_password"))
    form = NewPasswordForm()
    with runtime().db.session() as db:
        row = db.get(Operator, operator_id)
        if row is None:
            abort(404)
        if form.validate_on_submit():
            row.password_hash = hash_password(form.new_password.data)
            audit(db, "admin.operator_password", detail=row.email)
            flash(translate("password.set_for", name=row.name), "ok")
            return redirect(url_for("inbox.operators"))
        status = 400 if request.method == "POST" else 200
        return render_template(
            "inbox/password.html", form=form, own=False, target=row, min_password=MIN_PASSWORD_LENGTH
        ), status


# --------------------------------------------------------------------------- canned responses
@inbox_bp.route("/admin/canned", methods=["GET", "POST"])
@login_required
@roles_required("admin")
def canned() -> Any:
    form = CannedForm()
    with runtime().db.session() as db:
        if form.validate_on_submit():
            code = form.code.data.strip().lower()
            row = db.scalar(select(CannedResponse).where(CannedResponse.code == code))
            if row is None:
                row = CannedResponse(code=code)
                db.add(row)
            row.title, row.text, row.language = (
                form.title.data.strip(),
                form.text.data.strip(),
                form.language.data,
            )
            audit(db, "admin.canned_save", detail=code)
            flash(translate("flash.saved"), "ok")
            return redirect(url_for("inbox.canned"))
        rows = list(db.scalars(select(CannedResponse).order_by(CannedResponse.code)))
        status = 400 if request.method == "POST" else 200
        return render_template("inbox/canned.html", form=form, rows=rows), status


@inbox_bp.post("/admin/canned/<int:canned_id>/delete")
@login_required
@roles_required("admin")
def canned_delete(canned_id: int) -> Any:
    with runtime().db.session() as db:
        row = db.get(CannedResponse, canned_id)
        if row is None:
            abort(404)
        audit(db, "admin.canned_delete", detail=row.code)
        db.delete(row)
    flash(translate("flash.saved"), "ok")
    return redirect(url_for("inbox.canned"))


# --------------------------------------------------------------------------- agencies
@inbox_bp.route("/admin/agencies", methods=["GET", "POST"])
@login_required
@roles_required("admin")
def agencies() -> Any:
    """Names and whether an agency takes new dispositions; codes and routing stay in config/agencies.yaml."""
    with runtime().db.session() as db:
        if request.method == "POST":
            agency_id = parse_id(request.form.get("agency_id"))
            row = db.get(Agency, agency_id) if agency_id is not None else None
            if row is None:
                abort(404)
            form = AgencyForm()
            if form.validate_on_submit():
                if row.is_coordinator and not form.active.data:
                    flash(translate("admin.coordinator_stays"), "error")
                else:
                    row.name, row.active = form.name.data.strip(), bool(form.active.data)
                    audit(db, "admin.agency_save", detail=f"{row.code} active={row.active}")
                    flash(translate("flash.saved"), "ok")
            else:
                for errors in form.errors.values():
                    for error in errors:
                        flash(str(error), "error")
            return redirect(url_for("inbox.agencies"))
        rows = list(db.scalars(select(Agency).order_by(Agency.is_coordinator.desc(), Agency.name)))
        counts = dict(
            db.execute(select(Operator.agency_id, func.count(Operator.id)).group_by(Operator.agency_id)).all()
        )
        return render_template("inbox/agencies.html", rows=rows, counts=counts, form=AgencyForm())


# --------------------------------------------------------------------------- merging contacts
@inbox_bp.post("/t/<tracking>/merge-contact")
@login_required
@roles_required("admin", "coordinator")
def merge_contact(tracking: str) -> Any:
    """Merge the reporter of another ticket into this ticket's reporter (one citizen, two contacts).

    Admins and coordinators only (they see every ticket, so both reporters are theirs to
    judge); audited with contact ids and counts, never an address.
    """
    from gateway.tickets.merge import MergeRefused, merge_contacts

    other_tracking = (request.form.get("other") or "").strip().lstrip("#")[:16]
    with runtime().db.session() as db:
        ticket = ticket_or_404(db, tracking)
        back = redirect(url_for("inbox.thread", tracking=ticket.tracking) + "#merge-contact")
        if ticket.contact_id is None:
            flash(translate("merge.no_reporter"), "error")
            return back
        other = service.find_ticket(db, actor(), other_tracking) if other_tracking.isdigit() else None
        if other is None or other.contact_id is None:
            flash(translate("merge.not_found"), "error")
            return back
        if other.contact_id == ticket.contact_id:
            flash(translate("merge.same"), "error")
            return back
        try:
            result = merge_contacts(db, ticket.contact_id, other.contact_id)
        except MergeRefused:
            flash(translate("merge.not_found"), "error")
            return back
        audit(
            db,
            "contact.merge",
            ticket,
            f"contact {result.merged} into {result.kept} (from #{other_tracking}): {result.addresses} "
            f"addresses, {result.tickets} tickets, {result.messages} messages",
        )
    flash(
        translate("merge.done", addresses=result.addresses, tickets=result.tickets, messages=result.messages),
        "ok",
    )
    return back
