"""Signed, expiring links to one stored media file, for whoever we hand a file to outside the inbox.

Media leaves the gateway in two ways only: unsigned ``/media/<name>`` for a
verified, non-confidential ticket (`gateway.tickets.visibility.is_public`), and
these links, issued to forward targets (Open311, webhooks), providers when we
send a file, and the ticket's own citizen. A link is ``/media/<name>?exp=<unix
time>&sig=<hex>``: an HMAC-SHA256, keyed by ``SECRET_KEY``, of the name and the
expiry, so it opens that one file until then and cannot be stretched or moved
to another file. ``LAPOR_MEDIA_URL_TTL`` (seconds, default 7 days) sets how long;
it is long enough for an agency's staff to open a forwarded ticket's photo from
their own system days later, and short enough that a leaked link dies.

HMAC with the expiry in the link rather than itsdangerous's timed serializer:
the expiry then belongs to the link (fixed when issued), not to whatever the
verifying process is configured with today.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import quote

from config.settings import Settings

#: Query parameters of a signed link.
EXPIRES, SIGNATURE = "exp", "sig"
# Keeps these MACs apart from anything else SECRET_KEY signs (sessions, CSRF tokens).
_PURPOSE = b"lapor-media-link\x00"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,12}")


def _mac(secret: str, name: str, expires: int) -> str:
    message = _PURPOSE + f"{name}\x00{expires}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def public_url(settings: Settings, name: str) -> str:
    """The unsigned link to stored file ``name``: it opens only while the file's tickets are all public."""
    return f"{settings.public_base_url}/media/{quote(name)}"


def signed_url(settings: Settings, name: str, *, ttl: int | None = None, now: float | None = None) -> str:
    """The absolute signed link to stored file ``name``, valid ``ttl`` seconds (default: the setting)."""
    expires = int((time.time() if now is None else now) + (settings.media_url_ttl if ttl is None else ttl))
    mac = _mac(settings.secret_key, name, expires)
    return f"{public_url(settings, name)}?{EXPIRES}={expires}&{SIGNATURE}={mac}"


def verify(settings: Settings, name: str, expires: str | None, signature: str | None) -> bool:
    """Whether (``expires``, ``signature``) from a link is ours for ``name`` and not yet expired."""
    if not expires or not signature or not _DIGITS.fullmatch(expires):
        return False
    if int(expires) < time.time() or not _HEX64.fullmatch(signature):
        return False  # (compare_digest refuses non-ASCII text with an exception, not False)
    return hmac.compare_digest(_mac(settings.secret_key, name, int(expires)), signature)
