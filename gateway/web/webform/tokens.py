"""The web form's signed token: which form this is, and when it was handed out.

Every ``GET /lapor`` hands out a token with a fresh random id and the time, signed with
SECRET_KEY (itsdangerous, the signing Flask's own sessions use). The submission must bring
it back, which gives three protections without a third-party captcha:

* the id is the submission's provider message id, so the same form sent twice is stored
  once (a double tap, the browser resending after a slow answer);
* a form sent sooner than ``min_seconds`` after it was handed out was not filled in by a
  person (scripts post at once); one older than ``max_seconds`` is refused too, so a
  harvested token cannot be replayed for days;
* nobody can make a token without the key, so a script must fetch the page for each post,
  which is what the per-address limit counts.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "lapor-webform"
_RECEIPT_SALT = "lapor-webform-receipt"


@dataclass(frozen=True)
class FormToken:
    form_id: str
    issued_at: float


class TokenProblem(ValueError):
    """The token is missing, forged, too fresh or too old; ``code`` says which (for texts and tests)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def issue(secret_key: str, now: float | None = None) -> str:
    """A new form's token."""
    issued = time.time() if now is None else now
    return URLSafeSerializer(secret_key, salt=_SALT).dumps(
        {"id": secrets.token_urlsafe(16), "t": int(issued)}
    )


def check(
    secret_key: str, token: str, *, min_seconds: float, max_seconds: float, now: float | None = None
) -> FormToken:
    """The token's form, or TokenProblem: ``invalid``, ``too_fast`` or ``expired``."""
    if not token or len(token) > 200:
        raise TokenProblem("invalid")
    try:
        data = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
    except BadSignature:
        raise TokenProblem("invalid") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), str)
        or not isinstance(data.get("t"), int)
    ):
        raise TokenProblem("invalid")
    age = (time.time() if now is None else now) - data["t"]
    if age < min_seconds:
        raise TokenProblem("too_fast")
    if age > max_seconds:
        raise TokenProblem("expired")
    return FormToken(data["id"], float(data["t"]))


def receipt(secret_key: str, form_id: str) -> str:
    """The receipt page's key for a submitted form: only whoever sent it learns the address."""
    return URLSafeSerializer(secret_key, salt=_RECEIPT_SALT).dumps(form_id)


def receipt_form_id(secret_key: str, key: str) -> str | None:
    try:
        value = URLSafeSerializer(secret_key, salt=_RECEIPT_SALT).loads(key)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None
