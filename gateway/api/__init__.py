"""The JSON API at /api/v1: bearer tokens, JSON errors, one module per resource."""

from __future__ import annotations

import importlib

from gateway.api.auth import api_error, require_token
from gateway.api.blueprint import api_bp

# Resource modules register their routes on api_bp when imported.
from gateway.api import messages, openapi, reference, stats, tickets  # noqa: F401  isort: skip

for _name in ("gateway.api.ticket_actions",):
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # pragma: no cover - only while that module is absent
        if exc.name != _name:
            raise

__all__ = ["api_bp", "api_error", "require_token"]
