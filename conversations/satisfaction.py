"""Satisfaction after resolution and the right to escalate: the rules, without storage.

When a ticket is resolved the citizen is asked once to rate the handling from 1 to 5
(buttons where the channel has them, a digit everywhere). While the question is open a
lone digit 1-5 is a rating, never a reopen; the next message after a rating is taken as
its optional comment. A rating of 1 or 2 is "low": the citizen is told of their right to
take the complaint to the Ombudsman RI, and with a comment the coordinator is offered a
reopen. The gateway (gateway/tickets/satisfaction.py) stores and sends; the engine reads
the digits (conversations/engine.py); both take their rules from here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from adapters.base import Button
from conversations import texts

if TYPE_CHECKING:
    from conversations.snapshot import ConfigSnapshot

SCORES = (1, 2, 3, 4, 5)
#: Ratings that count as "not satisfied": the Ombudsman notice, and with a comment a reopen offer.
LOW_SCORES = frozenset({1, 2})
#: Payload of a rating button: ``rate:<tracking>:<score>``.
PAYLOAD_PREFIX = "rate:"

_DIGIT = re.compile(r"\s*([1-5])\s*[.)!]?\s*")


def is_low(score: int | None) -> bool:
    return score in LOW_SCORES


def rating_digit(text: str) -> int | None:
    """The score a lone digit 1-5 gives ("4", " 2. "), None for anything else ("12", "5 hari")."""
    match = _DIGIT.fullmatch(text or "")
    return int(match.group(1)) if match else None


def button_payload(tracking: str, score: int) -> str:
    return f"{PAYLOAD_PREFIX}{tracking}:{score}"


def parse_payload(payload: str | None) -> tuple[str, int] | None:
    """(tracking, score) of a rating button's payload, None for any other payload."""
    if not payload or not payload.startswith(PAYLOAD_PREFIX):
        return None
    tracking, _, score = payload[len(PAYLOAD_PREFIX) :].partition(":")
    if not tracking or not score.isdigit() or int(score) not in SCORES:
        return None
    return tracking, int(score)


def _language(language: str | None) -> str:
    return language if language in texts.LANGUAGES else texts.DEFAULT_LANGUAGE


def question(
    config: ConfigSnapshot, tracking: str, language: str | None, max_len: int, menu_style: str
) -> tuple[str, tuple[Button, ...]]:
    """The rating question and its buttons (none on "numbered" channels: SMS answers with a digit)."""
    lang = _language(language)
    text = texts.text(config, "rating.ask", lang, tracking=tracking)
    if len(text) > max_len and texts.has(config, "rating.ask_short", lang):
        text = texts.text(config, "rating.ask_short", lang, tracking=tracking)
    buttons: tuple[Button, ...] = ()
    if menu_style in ("keyboard", "list"):
        buttons = tuple(
            Button(
                button_payload(tracking, score),
                texts.truncate(texts.text(config, f"rating.labels.s{score}", lang), 24),
            )
            for score in SCORES
        )
    return texts.truncate(text, max_len), buttons


def ombudsman_notice(config: ConfigSnapshot, tracking: str, language: str | None, max_len: int) -> str:
    """The citizen's right to take the complaint to the Ombudsman RI, with its contact (config)."""
    lang = _language(language)
    regional = (
        texts.text(config, "ombudsman.regional", lang)
        if texts.raw(config, "ombudsman.regional", lang)
        else ""
    )
    value = texts.text(config, "ombudsman.text", lang, tracking=tracking, regional=regional).strip()
    if len(value) > max_len and texts.has(config, "ombudsman.text_short", lang):
        value = texts.text(config, "ombudsman.text_short", lang, tracking=tracking, regional=regional).strip()
    return texts.truncate(value, max_len)


def follow_up_passes(missed_before: int, late_working_days: int, follow_up_days: int) -> int:
    """How many times a ticket has passed its follow-up deadline.

    ``missed_before`` counts the earlier follow-up deadlines it missed (each dispatch or
    reopen starts a new one); the current one counts once when it is missed
    (``late_working_days`` > 0) and once more for every further whole follow-up period
    it stays missed: five working days late on a five-day follow-up is a second pass.
    """
    passes = missed_before
    if late_working_days > 0:
        passes += 1 + (late_working_days // follow_up_days if follow_up_days > 0 else 0)
    return passes
