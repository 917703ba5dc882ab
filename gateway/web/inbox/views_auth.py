"""Login, logout, the language switch and an operator's own password."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user
from sqlalchemy import func, select

from gateway.store.models import Agency, AuditEntry, Operator, utcnow
from gateway.web.inbox import inbox_bp
from gateway.web.inbox.access import audit, runtime
from gateway.web.inbox.auth import end_session, keep_session, start_session, user_from_row
from gateway.web.inbox.forms import ChangePasswordForm, LoginForm
from gateway.web.inbox.i18n import LANGUAGES, translate
from gateway.web.inbox.passwords import MIN_PASSWORD_LENGTH, hash_password, needs_rehash, verify_password

#: Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password-used-for-timing-only")


def _safe_next(target: str | None) -> str:
    """Only local paths under /inbox; anything else (another host, //evil) goes to the list.

    A target with a control character, raw or percent-encoded (CR/LF would split the
    Location header: a 500, or a header injected), or a backslash (read as ``/`` by
    browsers) is no local path either.
    """
    if not target or not target.isprintable() or not unquote(target).isprintable() or "\\" in target:
        return url_for("inbox.tickets")
    try:
        parts = urlsplit(target)
    except ValueError:  # "//[x": an unclosed IPv6 host
        return url_for("inbox.tickets")
    if parts.scheme or parts.netloc or not parts.path.startswith("/inbox") or target.startswith("//"):
        return url_for("inbox.tickets")
    return target


@inbox_bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("inbox.tickets"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        with runtime().db.session() as db:
            row = db.scalar(select(Operator).where(func.lower(Operator.email) == email))
            ok = verify_password(row.password_hash if row else _DUMMY_HASH, form.password.data)
            if row is not None and ok and row.active and not (row.role == "agency" and row.agency_id is None):
                if needs_rehash(row.password_hash):
                    row.password_hash = hash_password(form.password.data)
                row.last_login_at = utcnow()
                agency = db.get(Agency, row.agency_id) if row.agency_id else None
                user = user_from_row(row, agency)
                password_hash = row.password_hash
                operator_id = row.id
                db.add(AuditEntry(operator_id=row.id, actor_label=row.email, action="login"))
            else:
                user = None
                db.add(
                    AuditEntry(
                        operator_id=row.id if row else None, actor_label=email[:255], action="login.failed"
                    )
                )
        if user is not None:
            language = session.get("lang")
            session.clear()  # a fresh session id after login: no fixation
            if language:
                session["lang"] = language
            login_user(user)
            start_session(operator_id, password_hash)
            return redirect(_safe_next(request.args.get("next")))
        error = translate("login.failed")
    elif request.method == "POST":
        error = translate("login.failed")
    status = 401 if request.method == "POST" else 200
    expired = request.args.get("expired") == "1"
    return render_template("inbox/login.html", form=form, error=error, expired=expired), status


@inbox_bp.post("/logout")
@login_required
def logout() -> Any:
    end_session()
    flash(translate("login.logged_out"), "info")
    return redirect(url_for("inbox.login"))


@inbox_bp.post("/language")
def language() -> Any:
    """Switch the interface language for this session (and save it for a logged-in operator)."""
    chosen = request.form.get("lang", "id")
    if chosen not in LANGUAGES:
        chosen = "id"
    session["lang"] = chosen
    if current_user.is_authenticated:
        with runtime().db.session() as db:
            row = db.get(Operator, current_user.id)
            if row is not None:
                row.language = chosen
    back = request.form.get("next") or request.referrer
    return redirect(_safe_next(_path_of(back)) if back else url_for("inbox.login"))


def _path_of(url: str) -> str | None:
    """The path of a referrer or a form's ``next``, to come back to; None when it cannot be read.

    urlsplit drops CR/LF silently and fails on "//[x", so both are looked at first.
    """
    if not url.isprintable():
        return None
    try:
        return urlsplit(url).path
    except ValueError:
        return None


@inbox_bp.route("/account/password", methods=["GET", "POST"])
@login_required
def account_password() -> Any:
    """An operator changes their own password: this session stays, their other sessions end.

    Only ever the logged-in operator's row: the form names no account, so no
    field can point it at someone else. The current password is asked for so a
    session left open at a front desk cannot be turned into a takeover; wrong
    answers are audited and throttled like logins (gateway.web.inbox.throttle).
    """
    form = ChangePasswordForm()
    changed_hash = None
    if form.validate_on_submit():
        with runtime().db.session() as db:
            row = db.get(Operator, current_user.id)
            if row is None:
                abort(404)
            if not verify_password(row.password_hash, form.current_password.data):
                form.current_password.errors = [
                    *form.current_password.errors,
                    translate("password.wrong_current"),
                ]
                audit(db, "account.password_failed")
            elif form.new_password.data == form.current_password.data:
                form.new_password.errors = [*form.new_password.errors, translate("password.same")]
            else:
                row.password_hash = hash_password(form.new_password.data)
                changed_hash = row.password_hash
                audit(db, "account.password")
    if changed_hash is not None:
        keep_session(changed_hash)
        flash(translate("password.changed"), "ok")
        return redirect(url_for("inbox.tickets"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "inbox/password.html", form=form, own=True, target=None, min_password=MIN_PASSWORD_LENGTH
    ), status
