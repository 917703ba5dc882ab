"""Operator accounts in the inbox: Flask-Login, idle and absolute session expiry, role checks.

The session cookie carries only the operator id, two timestamps, a stamp of
the password the session was opened with and a random session id; the operator
row is read again on every request, so a deactivated account, a changed role or
a changed password takes effect at once rather than when the cookie expires.
The session id names an `InboxSession` row, which logout and expiry delete: a
copy of the cookie made before logout is refused after it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import abort, current_app, session
from flask_login import LoginManager, UserMixin, current_user, logout_user
from sqlalchemy import delete

from gateway.store.models import Agency, InboxSession, Operator, utcnow

#: Minutes without a request before an operator must log in again (shared computers at a front desk).
DEFAULT_IDLE_MINUTES = 30
#: Hours after login before the session ends however busy the operator is.
DEFAULT_ABSOLUTE_HOURS = 12

ROLES: tuple[str, ...] = ("admin", "coordinator", "agency")


@dataclass
class InboxUser(UserMixin):
    """The logged-in operator, detached from the database session."""

    id: int
    email: str
    name: str
    role: str
    agency_id: int | None
    agency_code: str | None
    agency_name: str | None
    language: str
    active: bool

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def city_wide(self) -> bool:
        """Admins and coordinators see every ticket; agency operators only their agency's."""
        return self.role in ("admin", "coordinator")

    @property
    def agency_scoped(self) -> bool:
        return not self.city_wide


def user_from_row(row: Operator, agency: Agency | None) -> InboxUser:
    return InboxUser(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        agency_id=row.agency_id,
        agency_code=agency.code if agency else None,
        agency_name=agency.name if agency else None,
        language=row.language or "id",
        active=bool(row.active),
    )


def password_stamp(password_hash: str) -> str:
    """A digest of the operator's password hash, kept in the session cookie.

    Cookie sessions live in the browser, so the server cannot delete another
    browser's session; instead every session carries this stamp and `load_user`
    refuses one whose stamp no longer matches. Any change of the password (the
    inbox, an admin, `lapor-gateway operator set-password`) thus ends the other
    sessions without a column to remember to update. The cookie is signed but
    readable, hence a digest keyed with SECRET_KEY rather than the hash itself.
    """
    key = current_app.secret_key
    key_bytes = key.encode() if isinstance(key, str) else bytes(key or b"")
    message = b"inbox-session-password:" + password_hash.encode()
    return hmac.new(key_bytes, message, hashlib.sha256).hexdigest()[:32]


def load_user(user_id: str) -> InboxUser | None:
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    runtime = current_app.extensions["lapor"]
    with runtime.db.session() as db:
        row = db.get(Operator, key)
        if row is None or not row.active:
            return None
        if not hmac.compare_digest(str(session.get("pw", "")), password_stamp(row.password_hash)):
            return None  # the password changed since this session logged in
        record = db.get(InboxSession, session_digest(session.get("sid")))
        if record is None or record.operator_id != row.id:
            return None  # logged out (or expired) on the server: a copied cookie is worth nothing
        # An agency operator without an agency would see nothing; treat the account as broken.
        if row.role == "agency" and row.agency_id is None:
            return None
        agency = db.get(Agency, row.agency_id) if row.agency_id else None
        return user_from_row(row, agency)


def setup_login(app: Any) -> LoginManager:
    manager = LoginManager()
    manager.login_view = "inbox.login"
    manager.session_protection = "basic"
    manager.user_loader(load_user)
    manager.init_app(app)

    @manager.unauthorized_handler
    def _unauthorized() -> Any:
        from flask import redirect, request, url_for

        if request.accept_mimetypes.best == "application/json" or request.path.endswith(".json"):
            abort(401)
        return redirect(
            url_for("inbox.login", next=request.full_path if request.query_string else request.path)
        )

    return manager


def session_digest(session_id: object) -> str:
    """The key of a session's `InboxSession` row: a digest, so the table holds no usable cookie."""
    return hashlib.sha256(f"inbox-session:{session_id or ''}".encode()).hexdigest()


def start_session(operator_id: int, password_hash: str) -> None:
    """Stamp a fresh login and record it on the server; called right after `login_user`.

    Rows of sessions past the absolute limit are removed here, so the table holds
    at most the sessions that could still be in use.
    """
    now = int(time.time())
    session_id = secrets.token_urlsafe(32)
    absolute = int(current_app.config.get("INBOX_ABSOLUTE_HOURS", DEFAULT_ABSOLUTE_HOURS))
    with current_app.extensions["lapor"].db.session() as db:
        db.execute(delete(InboxSession).where(InboxSession.created_at < utcnow() - timedelta(hours=absolute)))
        db.add(InboxSession(id=session_digest(session_id), operator_id=operator_id))
    session["sid"] = session_id
    session["login_at"] = now
    session["seen_at"] = now
    session["pw"] = password_stamp(password_hash)
    session.permanent = True


def keep_session(password_hash: str) -> None:
    """Keep this session after its own operator changed the password; the others end."""
    session["pw"] = password_stamp(password_hash)


def session_expired() -> bool:
    """True when the idle or absolute limit has passed; touches ``seen_at`` otherwise."""
    if not current_user.is_authenticated:
        return False
    now = int(time.time())
    idle = int(current_app.config.get("INBOX_IDLE_MINUTES", DEFAULT_IDLE_MINUTES)) * 60
    absolute = int(current_app.config.get("INBOX_ABSOLUTE_HOURS", DEFAULT_ABSOLUTE_HOURS)) * 3600
    login_at = int(session.get("login_at", 0))
    seen_at = int(session.get("seen_at", 0))
    if not login_at or now - login_at > absolute or now - seen_at > idle:
        return True
    session["seen_at"] = now
    return False


def end_session() -> None:
    """Log out: the server's record goes first, so no copy of this cookie works afterwards."""
    if session.get("sid"):
        with current_app.extensions["lapor"].db.session() as db:
            db.execute(delete(InboxSession).where(InboxSession.id == session_digest(session["sid"])))
    logout_user()
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """403 unless the operator has one of ``roles`` (menus hide the links; this is the real check)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
