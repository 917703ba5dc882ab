"""The JSON API at /api/v1: bearer tokens, JSON errors, one module per resource."""

from __future__ import annotations

from gateway.api.auth import api_error, require_token
from gateway.api.blueprint import api_bp

# Resource modules register their routes on api_bp when imported.
from gateway.api import messages, tickets  # noqa: F401  isort: skip

try:  # the ticket actions live with the ticket service
    from gateway.api import ticket_actions  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - only while that module is absent
    if exc.name != "gateway.api.ticket_actions":
        raise

__all__ = ["api_bp", "api_error", "require_token"]
