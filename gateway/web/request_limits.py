"""The app's one Flask-Limiter, and the per-source and per-key limits on public endpoints.

Counts live in Redis, so every web worker shares them. The inbox's login limits
are set in `gateway.web.inbox.throttle`; here are the others:

* Tracking lookups (`/lacak/<n>` and Open311's ``/requests/<id>``) share one
  budget per client address. The check digit of a tracking number stops only
  nine typos in ten, so without a limit anyone could walk through numbers and
  learn which exist (a confidential ticket shows its status).
* Open311 filing (POST ``/requests``) is limited per API key, whatever address
  it comes from: a leaked or buggy client cannot flood the coordinators' queue.

Limits are Flask-Limiter strings (``"30 per minute;300 per hour"``) read from the
settings named below; docs/operations.md lists them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

#: Tracking lookups per client address (``LAPOR_LOOKUP_LIMIT_PER_ADDRESS``); mobile carriers put
#: many citizens behind one address, hence room for more than one person's checking.
LOOKUP_LIMIT_PER_ADDRESS = "30 per minute;300 per hour"
#: Open311 requests filed per API key (``LAPOR_OPEN311_CREATE_LIMIT_PER_KEY``).
OPEN311_CREATE_LIMIT_PER_KEY = "30 per minute;1000 per day"


def app_limiter(app: Flask) -> Limiter:
    """The app's Flask-Limiter, made on first use: whichever area asks first creates it."""
    limiter = app.extensions.get("limiter")
    if isinstance(limiter, Limiter):
        return limiter
    settings = app.extensions["lapor"].settings
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        default_limits=[],
        strategy="fixed-window",
        key_prefix="lapor-limits",
        headers_enabled=False,
    )
    app.extensions["limiter"] = limiter
    app.extensions["inbox_limiter"] = limiter  # gateway.app keeps webhooks out of it by this name
    return limiter


def _setting(app: Flask, name: str, default: str) -> str:
    return str(app.extensions["lapor"].settings.get(name) or default)


def limit_lookups(app: Any, endpoint: str, numbers: Callable[[], int] | None = None) -> None:
    """Count ``endpoint`` against the per-address lookup budget shared by every tracking lookup.

    ``numbers``, when given, says how many tracking numbers the request looks up (a
    list by ids costs one per id; a request naming none is no lookup and is not counted).
    """
    limit = _setting(app, "LAPOR_LOOKUP_LIMIT_PER_ADDRESS", LOOKUP_LIMIT_PER_ADDRESS)
    decorate: Any = app_limiter(app).shared_limit(
        limit,
        scope="tracking-lookup",
        error_message=f"too many lookups from this address ({limit}); try again later",
        cost=numbers or 1,
        exempt_when=(lambda: numbers() == 0) if numbers else None,
    )
    app.view_functions[endpoint] = decorate(app.view_functions[endpoint])


def _api_key() -> str:
    """The submitted key, digested: a limiter key lands in Redis, the token itself must not."""
    given = (request.form.get("api_key") or "").strip()
    return "open311-key:" + hashlib.sha256(given.encode()).hexdigest()[:32]


def limit_per_api_key(app: Any, endpoint: str) -> None:
    """Limit POSTs to ``endpoint`` per submitted ``api_key``."""
    limit = _setting(app, "LAPOR_OPEN311_CREATE_LIMIT_PER_KEY", OPEN311_CREATE_LIMIT_PER_KEY)
    decorate: Any = app_limiter(app).limit(
        limit,
        key_func=_api_key,
        methods=["POST"],
        error_message=f"too many requests for this api_key ({limit}); try again later",
    )
    app.view_functions[endpoint] = decorate(app.view_functions[endpoint])
