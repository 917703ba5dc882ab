"""Tracking numbers: 8 digits, the last a Damm check digit, shown as ``#12345678``.

A citizen copies the number from a small screen or reads it over the phone; the
check digit catches every single-digit typo and every swap of adjacent digits,
so a mistyped number is refused instead of showing someone else's complaint.
"""

from __future__ import annotations

import re
import secrets

from stdnum import damm

TRACKING_DIGITS = 8
_PATTERN = re.compile(rf"^#?\s*(\d{{{TRACKING_DIGITS}}})$")


def new_tracking_number() -> str:
    """A fresh random tracking number (7 random digits, first not zero, plus the check digit)."""
    body = str(secrets.randbelow(9_000_000) + 1_000_000)
    return body + damm.calc_check_digit(body)


def parse_tracking(text: str) -> str | None:
    """The 8-digit number in ``text`` (with or without ``#``) if its check digit is right."""
    match = _PATTERN.match(text.strip())
    if not match:
        return None
    number = match.group(1)
    return number if damm.is_valid(number) else None


def looks_like_tracking(text: str) -> bool:
    """True for any 8-digit number, valid or not, so a typo can be told apart from chatter."""
    return bool(_PATTERN.match(text.strip()))


def format_tracking(number: str) -> str:
    """The form citizens and operators see: ``#12345678``."""
    return f"#{number}"
