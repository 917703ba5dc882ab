"""The JSON API at /api/v1: bearer tokens, JSON errors, one module per resource."""

from __future__ import annotations

from gateway.web.api.auth import api_error, require_token
from gateway.web.api.blueprint import api_bp

# Resource modules register their routes on api_bp when imported.
from gateway.web.api import messages, openapi, reference, stats, ticket_actions, tickets  # noqa: F401  isort: skip

__all__ = ["api_bp", "api_error", "require_token"]
