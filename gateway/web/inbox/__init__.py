"""The operators' shared inbox: server-rendered pages under /inbox, Indonesian first, English on request.

`init_app` plugs it into the app factory: the blueprint, Flask-Login, CSRF
protection for every form in the app (webhooks and the API are exempt: they are
authenticated by signatures and bearer tokens) and login throttling in Redis.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

inbox_bp = Blueprint("inbox", __name__, url_prefix="/inbox")

# Views register themselves on inbox_bp.
from gateway.web.inbox import views_admin, views_auth, views_drafts, views_list, views_ticket  # noqa: E402, F401
from gateway.web.inbox.templating import install_template_helpers  # noqa: E402

#: Blueprints that authenticate requests by signature or token, never by a session cookie.
CSRF_EXEMPT_BLUEPRINTS: tuple[str, ...] = ("webhooks", "api", "open311", "health", "metrics")


def init_app(app: Flask) -> None:
    """Register the inbox on ``app`` with its login, CSRF and throttling machinery."""
    from gateway.web.inbox.auth import setup_login
    from gateway.web.inbox.throttle import setup_limiter

    settings = app.extensions["lapor"].settings
    app.config.setdefault("INBOX_IDLE_MINUTES", int(settings.get("LAPOR_INBOX_IDLE_MINUTES", "30") or 30))
    app.config.setdefault("INBOX_ABSOLUTE_HOURS", int(settings.get("LAPOR_INBOX_ABSOLUTE_HOURS", "12") or 12))
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session's own expiry bounds the token
    app.register_blueprint(inbox_bp)
    from gateway.attachments.evidence_links import evidence_bp

    app.register_blueprint(evidence_bp)
    setup_login(app)
    app.before_request(views_evidence.raise_upload_limit)  # before CSRF reads the form
    csrf = CSRFProtect(app)
    for name in CSRF_EXEMPT_BLUEPRINTS:
        blueprint = app.blueprints.get(name)
        if blueprint is not None:
            csrf.exempt(blueprint)
    app.extensions["inbox_csrf"] = csrf
    setup_limiter(app)
    install_template_helpers(app)

    @app.after_request
    def _no_store(response: Any) -> Any:
        """Nothing under /inbox stays in a browser or proxy cache: front-desk computers are shared,
        and every page, fragment, export and attachment carries citizens' data."""
        if request.path.startswith(inbox_bp.url_prefix or "/inbox"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Any:
        if request.path.startswith(("/api/", "/webhooks/", "/open311/")):
            return {"error": {"code": "csrf", "message": exc.description}}, 400
        return render_template("inbox/error.html", code=400, key="error.csrf"), 400


@inbox_bp.before_request
def _session_limits() -> Any:
    """Idle and absolute expiry: an expired session logs out and returns to the login page.

    So does a session whose account is no longer let in (deactivated, or its
    password changed elsewhere): the cookie still names the operator, but
    `load_user` refused it.
    """
    from gateway.web.inbox.auth import end_session, session_expired

    if request.endpoint in ("inbox.login", "inbox.language", "inbox.static"):
        return None
    if session_expired() or ("_user_id" in session and not current_user.is_authenticated):
        end_session()
        return redirect(url_for("inbox.login", expired=1))
    return None


@inbox_bp.errorhandler(404)
def _not_found(_exc: Any) -> Any:
    if request.path.endswith(".json"):
        return {"error": {"code": "not_found", "message": "not found"}}, 404
    return render_template("inbox/error.html", code=404, key="error.not_found"), 404


@inbox_bp.errorhandler(403)
def _forbidden(_exc: Any) -> Any:
    if request.path.endswith(".json"):
        return {"error": {"code": "forbidden", "message": "forbidden"}}, 403
    return render_template("inbox/error.html", code=403, key="error.forbidden"), 403


@inbox_bp.get("/")
def home() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("inbox.login"))
    return redirect(url_for("inbox.tickets"))


# The working-day additions (evidence, bulk actions, the citizen view, notices, moderation).
from gateway.web.inbox import (  # noqa: E402, F401
    moderation,
    views_bulk,
    views_citizen,
    views_evidence,
    views_notices,
    views_voice,
)
