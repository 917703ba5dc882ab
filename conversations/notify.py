"""How ticket updates read for the citizen, on their channel and in their language.

The ticket service calls these when a ticket changes status or an operator answers,
and sends the text back on the channel the citizen used. The tracking number and
what the citizen can do next always survive; an operator's long note is shortened
to fit an SMS rather than pushing the essentials out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conversations import texts

if TYPE_CHECKING:
    from conversations.snapshot import ConfigSnapshot

# Statuses with their own wording; "reopened" is an event (a resolved ticket answered
# by the citizen), worded like a status.
WORDED = ("unverified", "deferred", "dispatched", "in_progress", "resolved", "archived", "reopened")


def _language(language: str | None) -> str:
    return language if language in texts.LANGUAGES else texts.DEFAULT_LANGUAGE


def status_label(config: ConfigSnapshot, status: str, language: str) -> str:
    """The contract's label for a status ("Sedang Diproses"), or the status itself."""
    label = texts.raw(config, f"status.labels.{status}", _language(language))
    return str(label) if label else status


def render_status_update(
    config: ConfigSnapshot,
    tracking: str,
    status: str,
    note: str | None,
    agency_name: str | None,
    language: str,
    max_len: int,
) -> str:
    """The message telling the citizen that ticket ``tracking`` is now ``status``."""
    lang = _language(language)
    key = status if status in WORDED else "other"
    note = (note or "").strip()
    if note and note[-1] not in ".!?":
        note += "."  # the fixed text that follows starts a new sentence
    variant = "with_note" if note else "text"
    days = config.deadlines()
    params = {
        "tracking": tracking,
        "agency": agency_name or texts.text(config, "notify.agency_unknown", lang),
        "label": status_label(config, status, lang),
        "note": note,
        "verify": days.get("verify", 3),
        "follow_up": days.get("follow_up", 5),
        "reopen_window": days.get("reopen_window", 10),
    }
    return texts.fit(config, f"notify.{key}.{variant}", lang, max_len, shrink=("note", "agency"), **params)


def render_operator_reply(
    config: ConfigSnapshot, tracking: str, text: str, language: str, max_len: int
) -> str:
    """An operator's answer, labelled with the ticket it is about."""
    lang = _language(language)
    return texts.fit(
        config, "notify.operator_reply", lang, max_len, shrink=("text",), tracking=tracking, text=text.strip()
    )
