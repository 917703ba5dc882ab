"""Short signed links to a file an operator sent a citizen, short enough for an SMS.

A `gateway.attachments.links.signed_url` is about 130 characters (a 32-digit file name,
a 64-digit MAC): most of an SMS part. The citizen's link instead names the
outbound message that carries the file: ``/b/<message id>.<expiry>.<mac>``, all
base 36 but the MAC, which is 20 hex digits (80 bits) of an HMAC-SHA256 keyed by
``SECRET_KEY``, so it cannot be guessed, stretched or moved to another message.
It opens the message's file until the expiry (``LAPOR_MEDIA_URL_TTL``, as for
every signed link), through the same response builder as ``/media/``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from flask import Blueprint, abort, current_app
from werkzeug.wrappers import Response

from config.settings import Settings
from gateway.store.models import Message
from gateway.web.media import media_response

evidence_bp = Blueprint("evidence_links", __name__)

_PURPOSE = b"lapor-evidence-link\x00"
_TOKEN = re.compile(r"([0-9a-z]{1,12})\.([0-9a-z]{1,10})\.([0-9a-f]{20})")
#: Path prefix of the links (one letter: every character counts in an SMS).
PREFIX = "/b/"


def _mac(secret: str, message_id: int, expires: int) -> str:
    digest = hmac.new(secret.encode(), _PURPOSE + f"{message_id}\x00{expires}".encode(), hashlib.sha256)
    return digest.hexdigest()[:20]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def short_url(settings: Settings, message_id: int, *, now: float | None = None) -> str:
    """The absolute short link to the file of outbound message ``message_id``."""
    expires = int((time.time() if now is None else now) + settings.media_url_ttl)
    token = f"{_base36(message_id)}.{_base36(expires)}.{_mac(settings.secret_key, message_id, expires)}"
    return f"{settings.public_base_url}{PREFIX}{token}"


def verified_message_id(settings: Settings, token: str, *, now: float | None = None) -> int | None:
    """The message id ``token`` is a valid, unexpired link for; None otherwise."""
    found = _TOKEN.fullmatch(token)
    if found is None:
        return None
    message_id, expires = int(found.group(1), 36), int(found.group(2), 36)
    if expires < (time.time() if now is None else now):
        return None
    if not hmac.compare_digest(_mac(settings.secret_key, message_id, expires), found.group(3)):
        return None
    return message_id


@evidence_bp.get(f"{PREFIX}<token>")
def open_link(token: str) -> Response:
    """The file behind a short link; 404 for anything else (a wrong, old or made-up link)."""
    runtime = current_app.extensions["lapor"]
    message_id = verified_message_id(runtime.settings, token)
    if message_id is None:
        abort(404)
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        attachments = list(message.attachments or []) if message is not None else []
        if message is None or message.direction != "out" or not attachments:
            abort(404)
        name = attachments[0].get("stored_path") if isinstance(attachments[0], dict) else None
    if not isinstance(name, str):
        abort(404)
    return media_response(runtime.settings.media_dir, name)
