"""The Flask application factory: one blueprint per area, one Runtime per process."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, abort, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from adapters.common import load_json
from config.settings import Settings, load_settings
from conversations.tracking import format_tracking
from gateway.ops.logging_setup import configure_logging, install_request_ids
from gateway.runtime import Runtime
from gateway.web.bounds import BoundedIntConverter

log = logging.getLogger(__name__)

# Provider webhooks: signed by the provider, never carrying a browser session or a form
# of ours. Per-request machinery meant for browsers is skipped under this prefix.
WEBHOOK_PREFIX = "/webhooks/"

_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    # Scripts and styles only from this site: an injected <script> in a citizen's text
    # cannot run even where a template forgot to escape.
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


class SessionlessWebhooks(SecureCookieSessionInterface):
    """Flask's cookie sessions, except on webhooks, which get the null session.

    Opening a session builds a signing serializer and reads the cookie on every
    request; a provider's webhook has no cookie and nothing on its path touches the
    session, so that was work for nothing on the busiest route (and saving is skipped
    for the null session too).
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(WEBHOOK_PREFIX):
            return None  # Flask falls back to make_null_session
        return super().open_session(app, request)


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, read through `adapters.common.load_json`: a body nested thousands deep
    is a ValueError (``get_json`` answers it as malformed), never a RecursionError (500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return load_json(s, **kwargs)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None, **config: Any) -> Flask:
    """Build the web app. Tests pass their own settings (or runtime) and Flask config."""
    runtime = runtime or Runtime(settings or load_settings())
    settings = runtime.settings
    configure_logging()
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.json = SafeJSONProvider(app)
    # Before any blueprint adds a route: every <int:...> is bounded to the id column's range.
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        JSON_SORT_KEYS=False,
        TESTING=settings.testing,
    )
    app.config.update(config)
    app.session_interface = SessionlessWebhooks()
    app.extensions["lapor"] = runtime
    if settings.proxy_count:
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]

    from gateway.ops.metrics import metrics_bp
    from gateway.web import inbox, open311, webform
    from gateway.web.api import api_bp
    from gateway.web.health import health_bp
    from gateway.web.media import media_bp
    from gateway.web.public import public_bp
    from gateway.web.webhooks import webhooks_bp

    app.add_template_filter(format_tracking, "tracking")
    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(api_bp)
    inbox.init_app(app)  # the inbox blueprint with its login, CSRF and limiter
    app.register_blueprint(public_bp)
    open311.init_app(app)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(media_bp)
    webform.init_app(app)  # the citizens' form, exempt from the inbox's session CSRF
    _exempt_webhooks_from_login_throttle(app)

    # Built once: (name, lowercased name, value) of every header each response gets unless
    # the view set its own.
    security_headers = _SECURITY_HEADERS + (
        (_HSTS,) if settings.public_base_url.startswith("https://") else ()
    )
    security_headers_lower = tuple((name, name.lower(), value) for name, value in security_headers)

    install_request_ids(app)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        headers = response.headers
        present = {key.lower() for key in headers.keys()}  # noqa: SIM118 - Headers, not a dict
        for name, lower, value in security_headers_lower:
            if lower not in present:
                headers.add(name, value)
        return response

    @app.before_request
    def _refuse_nul_in_query() -> None:
        # PostgreSQL cannot store or compare text with NUL bytes; a query parameter
        # carrying one is malformed input (400), never a database error (500). A NUL can
        # only arrive raw or as %00: without either, there is nothing to parse here.
        query = request.query_string
        if b"\x00" not in query and b"%00" not in query:
            return
        if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
            abort(400, description="query parameters must not contain NUL bytes")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if request.path.startswith(("/api/", WEBHOOK_PREFIX)):
            body = {
                "error": {"code": (exc.name or "error").lower().replace(" ", "_"), "message": exc.description}
            }
            return jsonify(body), exc.code
        return exc

    return app


def _exempt_webhooks_from_login_throttle(app: Flask) -> None:
    """Keep the inbox's login limiter (Flask-Limiter) out of webhook requests.

    It has no limit on webhooks (providers call from shared addresses; senders are
    limited per contact, see `gateway.messages.ratelimit`), yet resolved its limits on every
    request. A request filter is its documented way to say "nothing to check here".
    """
    limiter = app.extensions.get("inbox_limiter")
    if limiter is not None:
        limiter.request_filter(lambda: request.path.startswith(WEBHOOK_PREFIX))
