"""The Flask application factory: one blueprint per area, one Runtime per process."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import Settings, load_settings
from gateway.logging_setup import configure_logging
from gateway.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None, **config: Any) -> Flask:
    """Build the web app. Tests pass their own settings (or runtime) and Flask config."""
    runtime = runtime or Runtime(settings or load_settings())
    settings = runtime.settings
    configure_logging()
    app = Flask(__name__, template_folder="templates", static_folder="static")
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
    app.extensions["lapor"] = runtime
    if settings.proxy_count:
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]

    import gateway.tasks  # noqa: F401  (job handlers, so the web process can run jobs inline in tests)
    from gateway.api import api_bp
    from gateway.health import health_bp
    from gateway.webhooks import webhooks_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(api_bp)
    _register_optional_blueprints(app)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Scripts and styles only from this site: an injected <script> in a citizen's text
        # cannot run even where a template forgot to escape.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
            "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if settings.public_base_url.startswith("https://"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    @app.before_request
    def _refuse_nul_in_query() -> None:
        # PostgreSQL cannot store or compare text with NUL bytes; a query parameter
        # carrying one is malformed input (400), never a database error (500).
        from flask import abort, request

        if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
            abort(400, description="query parameters must not contain NUL bytes")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        from flask import request

        if request.path.startswith(("/api/", "/webhooks/")):
            body = {
                "error": {"code": (exc.name or "error").lower().replace(" ", "_"), "message": exc.description}
            }
            return jsonify(body), exc.code
        return exc

    return app


def _register_optional_blueprints(app: Flask) -> None:
    """Areas built in their own packages (inbox, public pages, Open311) plug in here when present."""
    import importlib

    for module_name, attr in (
        ("gateway.inbox", "inbox_bp"),
        ("gateway.public", "public_bp"),
        ("gateway.open311", "open311_bp"),
        ("gateway.metrics", "metrics_bp"),
        ("gateway.media", "media_bp"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        init = getattr(module, "init_app", None)
        blueprint = getattr(module, attr, None)
        if init is not None:
            init(app)
        elif blueprint is not None:
            app.register_blueprint(blueprint)


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["lapor"]
