"""How many SMS segments a text costs, and how to keep a reply within a cap.

An SMS carries 140 bytes. Text that fits the GSM 03.38 alphabet is packed as
7-bit septets (160 per single message, 153 per part once a concatenation header
takes its room); anything else goes as UCS-2 (70 UTF-16 code units, 67 per part).
One emoji outside the alphabet turns the whole message into UCS-2 and halves
what it can hold, and the citizen (or the deployer, for a shortcode) pays per
segment. That is why the count is done here, exactly, before anything is sent.

Extension characters of the GSM alphabet (``€ [ ] { } | ^ ~ \\``) take two septets
(an escape and the character); an emoji outside the Basic Multilingual Plane
takes two UTF-16 code units. Neither is ever split across two parts, because
phones would show garbage where the halves meet.
"""

from __future__ import annotations

from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM7 = "gsm7"
UCS2 = "ucs2"

# Units per message: (single message, one part of a concatenated message).
LIMITS: dict[str, tuple[int, int]] = {GSM7: (160, 153), UCS2: (70, 67)}

# What marks a cut text. The ellipsis is not in the GSM alphabet: using it would
# turn a GSM-7 reply into UCS-2 and halve its room, so GSM-7 text gets "...".
ELLIPSIS = {GSM7: "...", UCS2: "…"}


@dataclass(frozen=True)
class SegmentPlan:
    """A text as it will travel: its encoding, its parts and whether it was cut."""

    text: str
    encoding: str
    parts: tuple[str, ...]
    truncated: bool = False

    @property
    def count(self) -> int:
        return len(self.parts)


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 alphabet (base or extension table)."""
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return False
    return True


def encoding_of(text: str) -> str:
    return _measure(text)[0]


def char_units(char: str, encoding: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) one character takes."""
    return text_units(char, encoding)


def text_units(text: str, encoding: str | None = None) -> int:
    """Septets or UTF-16 code units of ``text`` (both encodings map character by character, so
    this is the sum of `char_units` over its characters), from one encode of the whole text."""
    if encoding is None:
        return _measure(text)[1]
    if encoding == GSM7:
        return len(text.encode("gsm03.38"))
    return len(text.encode("utf-16-le")) // 2


def _measure(text: str) -> tuple[str, int]:
    """The encoding of ``text`` and its units, from a single encode when it is GSM-7: every SMS
    send plans its text, and the alphabet check and the count were two passes per character."""
    try:
        return GSM7, text_units(text, GSM7)
    except UnicodeEncodeError:
        return UCS2, text_units(text, UCS2)


def split_segments(text: str) -> SegmentPlan:
    """The parts a phone network would cut ``text`` into, never splitting a character."""
    encoding, units = _measure(text)
    single, per_part = LIMITS[encoding]
    if units <= single:
        return SegmentPlan(text=text, encoding=encoding, parts=(text,))
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        units = char_units(char, encoding)
        if used + units > per_part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += units
    if current:
        parts.append("".join(current))
    return SegmentPlan(text=text, encoding=encoding, parts=tuple(parts))


def capacity(segments: int, encoding: str = GSM7) -> int:
    """Units that ``segments`` parts hold: 160 for one GSM-7 message, 153 each beyond."""
    single, per_part = LIMITS[encoding]
    if segments <= 1:
        return single
    return per_part * segments


def fit_segments(text: str, max_segments: int) -> SegmentPlan:
    """``text`` split into at most ``max_segments`` parts, cut with an ellipsis when longer.

    Replies are capped because every segment is billed: a chatty reply of ten
    segments costs a citizen on a prepaid plan (or the deployer on a shortcode) ten
    messages. The cut prefers a word boundary near the end so the text stays readable.
    """
    max_segments = max(1, max_segments)
    plan = split_segments(text)
    if plan.count <= max_segments:
        return plan
    encoding = plan.encoding
    marker = ELLIPSIS[encoding]
    room = capacity(max_segments, encoding) - text_units(marker, encoding)
    kept: list[str] = []
    used = 0
    for char in text:
        units = char_units(char, encoding)
        if used + units > room:
            break
        kept.append(char)
        used += units
    prefix = "".join(kept)
    space = prefix.rfind(" ")
    if space >= len(prefix) - 30 and space > 0:
        prefix = prefix[:space]
    cut = prefix.rstrip() + marker
    result = split_segments(cut)
    return SegmentPlan(text=cut, encoding=result.encoding, parts=result.parts, truncated=True)
