"""Open311 GeoReport v2 at /open311/v2, for agencies' systems and civic apps."""

from __future__ import annotations

from flask import Flask

from gateway.web.open311.views import open311_bp


def init_app(app: Flask) -> None:
    """Register the blueprint; its POST is authenticated by api_key, so CSRF does not apply."""
    app.register_blueprint(open311_bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(open311_bp)


__all__ = ["init_app", "open311_bp"]
