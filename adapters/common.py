"""Helpers every adapter needs: phone numbers, text cleaning, timestamps.

Kept in one place so that "+62 812-..." and "0812..." become the same contact
whichever provider carried them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

import phonenumbers

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
