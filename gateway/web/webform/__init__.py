"""The citizens' web complaint form, ``/lapor`` (channel ``web``); see `gateway.web.webform.views`."""

from __future__ import annotations

from typing import Any

from flask import Flask

from gateway.web.webform.views import LIMIT_PER_ADDRESS, webform_bp

__all__ = ["init_app", "webform_bp"]


def init_app(app: Flask) -> None:
    """Register the form; exempt it from the inbox's session CSRF (the form brings its own signed
    token, and a citizen has no session to protect); limit submissions per client address
    (Flask-Limiter in Redis, as the tracking lookups are)."""
    from gateway.web.request_limits import app_limiter

    app.register_blueprint(webform_bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(webform_bp)
    settings = app.extensions["lapor"].settings
    limit = str(settings.get("LAPOR_WEBFORM_LIMIT_PER_ADDRESS") or LIMIT_PER_ADDRESS)
    decorate: Any = app_limiter(app).limit(limit, methods=["POST"], scope="webform")
    app.view_functions["webform.submit"] = decorate(app.view_functions["webform.submit"])
