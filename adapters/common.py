"""Helpers every adapter needs: phone numbers, text cleaning, timestamps.

Kept in one place so that "+62 812-..." and "0812..." become the same contact
whichever provider carried them.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import re
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import phonenumbers
import requests
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

if TYPE_CHECKING:
    # What `merge_environment_settings` returns, in types-requests only.
    from requests.sessions import _Settings

DEFAULT_REGION = "ID"

# A shortcode is 3 to 6 digits; an alphanumeric sender has a letter in it.
_SHORTCODE = re.compile(r"^\d{3,6}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str | bytes | None) -> str:
    """Make provider text safe to store: valid UTF-8, no NUL or control bytes.

    Emoji, newlines and tabs are kept; length is never cut here, because a
    citizen's words are never thrown away.
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    # Lone surrogates come from JSON escapes such as "\ud83d" without its pair.
    value = value.encode("utf-8", errors="replace").decode("utf-8")
    value = _CONTROL.sub("", value)
    return unicodedata.normalize("NFC", value)


# No provider nests its payload deeper than about ten levels; a body far deeper is an
# attack on the parser (Python's json recurses, and a RecursionError would be a 500).
MAX_JSON_DEPTH = 64


def json_too_deep(body: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` opens more than ``limit`` nested arrays/objects (strings skipped).

    A linear scan without parsing, so the check itself cannot be made to recurse. A body
    with at most ``limit`` brackets in all (strings included) cannot nest deeper, which
    two C-speed counts tell at once for every ordinary body.
    """
    if isinstance(body, str):
        if body.count("[") + body.count("{") <= limit:
            return False
        body = body.encode("utf-8", errors="surrogatepass")
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = False
    escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def load_json(body: bytes | str, **options: Any) -> Any:
    """The one way a request body is read as JSON: webhooks, the API and the app's sessions.

    Raises ValueError with the reason (not UTF-8, nested deeper than MAX_JSON_DEPTH, not
    JSON) so every caller answers 400; ``json.loads`` alone would recurse into a body of
    a hundred thousand ``[`` and fail with a RecursionError, a 500. ``options`` go to
    ``json.loads`` (Flask's session cookie passes an ``object_hook``).
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"body is not UTF-8: {exc}") from exc
    if json_too_deep(body):
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(body, **options)


def coordinates(latitude: Any, longitude: Any) -> tuple[float, float] | None:
    """A provider's latitude/longitude as finite numbers on the globe, or None when they are not.

    The one rule for every place a location comes in (adapters, Open311) or is shown (the
    inbox map link): numbers or numeric text, latitude within ±90, longitude within ±180.
    Text such as "abc", null, an object, NaN or infinity is no place at all.
    """
    values: list[float] = []
    for value in (latitude, longitude):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return None
        if not math.isfinite(number):
            return None
        values.append(number)
    lat, lon = values
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return lat, lon


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """Return an E.164 number ("+62812...") or None when ``raw`` is not a phone number.

    Accepts the shapes Indonesian citizens and providers use: ``0812...``,
    ``62812...``, ``+62 812-...``, ``0062812...``. Shortcodes and alphanumeric
    senders return None.
    """
    if not raw:
        return None
    text = raw.strip()
    for prefix in ("tel:", "whatsapp:", "sms:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    digits = re.sub(r"[\s\-().]", "", text)
    if _SHORTCODE.match(digits) or re.search(r"[A-Za-z]", digits):
        return None
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif not digits.startswith("+") and not digits.startswith("0") and len(digits) > 8:
        # Providers often drop the "+" ("6281234567890"); read it as international.
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_address(raw: str, region: str = DEFAULT_REGION) -> str:
    """An address for an SMS sender: ``tel:+62...`` for a phone, ``sms:<raw>`` otherwise."""
    number = normalize_phone(raw, region)
    if number:
        return f"tel:{number}"
    return f"sms:{raw.strip()}"


def address_value(address: str) -> str:
    """The part of an address after its scheme: ``tel:+62...`` -> ``+62...``."""
    return address.split(":", 1)[1] if ":" in address else address


def parse_epoch(value: str | int | float | None) -> datetime | None:
    """A provider's Unix timestamp (seconds, as text or number) as an aware UTC datetime."""
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None when absent or odd."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def split_text(text: str, limit: int, length: Callable[[str], int] = len) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` (as measured by ``length``).

    Cuts at a paragraph break, else a line break, else a space, so that a long
    answer from an operator still reads well on a phone; a word longer than the
    limit is cut hard. ``length`` lets Telegram count UTF-16 code units.
    """
    if length(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while length(rest) > limit:
        # The longest prefix that fits (code points may count double in UTF-16).
        end = min(len(rest), limit)
        while length(rest[:end]) > limit:
            end -= 1
        window = rest[:end]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            position = window.rfind(separator)
            if position > limit // 2:
                cut = position
                break
        if cut <= 0:
            cut = end
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return [part for part in parts if part]


# What requests reads from the environment when a session trusts it (proxies, CA bundle, .netrc).
_HTTP_ENV_KEYS = frozenset(
    {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle", "curl_ca_bundle", "netrc"}
)


# Connections kept per provider host: a worker runs up to this many sends at once (its send
# threads), and a connection that does not fit the pool is closed after each call.
HTTP_POOL_SIZE = 64


# Hosts whose environment settings a `ProviderSession` keeps (a provider's API is one or two).
_ENVIRONMENT_HOSTS = 64


class ProviderSession(requests.Session):
    """A requests session that reads the environment once per host instead of on every call.

    A session that trusts the environment makes requests scan all of ``os.environ`` for
    proxies and ``NO_PROXY`` twice per call, and look up the CA bundle variables: work
    repeated on every send for an answer that cannot change, because a process's
    environment does not change while it runs (its cost is in docs/performance.md). So
    what the environment says for a scheme and host is kept after the first call and
    merged exactly as `requests.Session.merge_environment_settings` does.
    """

    def __init__(self) -> None:
        super().__init__()
        # (scheme, host, no_proxy argument) -> (environment proxies, environment CA bundle)
        self._environment: dict[tuple[str, str, str | None], tuple[dict[str, str], str | None]] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        found = self._environment.get(key)
        if found is None:
            found = (
                get_environ_proxies(url, no_proxy=no_proxy),
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE"),
            )
            if len(self._environment) >= _ENVIRONMENT_HOSTS:
                self._environment.clear()
            self._environment[key] = found
        environment_proxies, environment_verify = found
        if proxies is not None:
            for scheme, proxy in environment_proxies.items():
                proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = environment_verify or verify
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }


def http_session() -> requests.Session:
    """A requests session for a provider's API: connections pooled for many concurrent sends,
    and the environment read only when it has something to say (see below), and then once
    per host (`ProviderSession`)."""
    session = ProviderSession()
    session.trust_env = environment_has_http_settings()
    mount_pool(session)
    return session


def mount_pool(session: requests.Session) -> None:
    """Give ``session`` connection pools sized for `HTTP_POOL_SIZE` concurrent sends."""
    for prefix in ("http://", "https://"):
        session.mount(prefix, HTTPAdapter(pool_connections=4, pool_maxsize=HTTP_POOL_SIZE))


def environment_has_http_settings() -> bool:
    """Whether the environment carries proxy, CA-bundle or .netrc settings for HTTP clients.

    requests re-reads the environment on every call of a session that trusts it, work
    repeated on every send (measured in docs/performance.md). Adapters turn that off
    (``trust_env = False``) only when there is nothing to read, so a deployment behind a
    proxy keeps working unchanged.
    """
    if any(key.lower() in _HTTP_ENV_KEYS for key in os.environ):
        return True
    return os.path.exists(os.path.expanduser("~/.netrc")) or os.path.exists(os.path.expanduser("~/_netrc"))
