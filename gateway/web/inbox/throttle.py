"""Login throttling with Flask-Limiter, counted in Redis so every web worker shares the count.

Three limits on POST /inbox/login. Per client address, every attempt (someone
trying many accounts). Per account *and* address, failed attempts: a guesser is
stopped without locking the operator out from the office, since a count per
account alone would let anyone anywhere block an account by failing on purpose.
Per account from anywhere, failed attempts again, as a slower backstop against
guesses spread over many addresses. A GET of the login page is never limited.
Changing one's own password asks for the current one, so a session left open
could be used to guess it: POST /inbox/account/password is limited per address
and per operator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, render_template, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address

from gateway.web.request_limits import app_limiter

#: Login attempts per client address.
LOGIN_LIMIT_PER_ADDRESS = "10 per minute;100 per hour"
#: Failed logins per account (email) from one client address.
LOGIN_LIMIT_PER_ACCOUNT_ADDRESS = "5 per minute;30 per hour"
#: Failed logins per account from anywhere: the backstop, higher than the per-address count.
LOGIN_LIMIT_PER_ACCOUNT = "20 per minute;100 per hour"


def _submitted_account() -> str:
    return (request.form.get("email") or "").strip().lower()[:255]


def _account_key() -> str:
    return "login:" + _submitted_account()


def _account_address_key() -> str:
    return f"login:{get_remote_address()}:{_submitted_account()}"


def _failed(response: Any) -> bool:
    """Only refused logins count against an account: an operator's own logins never lock it."""
    return bool(response.status_code == 401)


def _operator_key() -> str:
    from flask_login import current_user

    return f"password:{getattr(current_user, 'id', None) or get_remote_address()}"


def setup_limiter(app: Flask) -> Limiter:
    settings = app.extensions["lapor"].settings
    limiter = app_limiter(app)
    per_address = settings.get("LAPOR_LOGIN_LIMIT_PER_ADDRESS") or LOGIN_LIMIT_PER_ADDRESS
    per_account_address = (
        settings.get("LAPOR_LOGIN_LIMIT_PER_ACCOUNT_ADDRESS") or LOGIN_LIMIT_PER_ACCOUNT_ADDRESS
    )
    per_account = settings.get("LAPOR_LOGIN_LIMIT_PER_ACCOUNT") or LOGIN_LIMIT_PER_ACCOUNT
    # Wrapped by flask-limiter's decorators, whose types are not Flask's view types.
    view: Callable[..., Any] = app.view_functions["inbox.login"]
    view = limiter.limit(per_account, key_func=_account_key, methods=["POST"], deduct_when=_failed)(view)
    view = limiter.limit(
        per_account_address, key_func=_account_address_key, methods=["POST"], deduct_when=_failed
    )(view)
    view = limiter.limit(per_address, methods=["POST"])(view)
    app.view_functions["inbox.login"] = view
    view = app.view_functions["inbox.account_password"]
    view = limiter.limit(per_account_address, key_func=_operator_key, methods=["POST"])(view)
    view = limiter.limit(per_address, methods=["POST"])(view)
    app.view_functions["inbox.account_password"] = view

    @app.errorhandler(RateLimitExceeded)
    def _too_many(_exc: Any) -> Any:
        if request.path.startswith(("/api/", "/webhooks/")):
            return {"error": {"code": "too_many_requests", "message": "slow down"}}, 429
        key = (
            "error.throttled_password" if request.endpoint == "inbox.account_password" else "error.throttled"
        )
        return render_template("inbox/error.html", code=429, key=key), 429

    return limiter
