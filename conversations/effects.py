"""What one step of the conversation asks the gateway to do.

The engine decides; the gateway acts. Each effect is a frozen value the gateway
stores with the new state in one transaction and then carries out (send, create,
append, schedule), so a crash between deciding and doing loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from typing import Any

from adapters.base import Attachment, Button, Location


@dataclass(frozen=True)
class Reply:
    """A message to the citizen on the channel they wrote from.

    ``buttons`` are for "keyboard" and "list" menu styles; on "numbered" channels the
    choices are already written into ``text``. ``menu_title`` labels the WhatsApp
    list button.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    menu_title: str | None = None


@dataclass(frozen=True)
class CreateTicket:
    """File a complete complaint under ``tracking`` (the number the context reserved)."""

    tracking: str
    description: str
    location_text: str
    location: Location | None
    category: str | None
    privacy: str  # "public" | "anonymous" | "confidential"
    attachments: tuple[Attachment, ...]
    language: str
    message_ids: tuple[str, ...]
    #: The working-day deadlines (verify, follow_up, ...) the confirmation promised, worked out
    #: once from the turn's configuration: the ticket is due by these, so a config edit between
    #: the reply and the ticket's creation cannot make the two disagree.
    deadlines: Mapping[str, int] = field(default_factory=dict)
    # The citizen answered the privacy question (not a default or a rule). Defaults to the safe
    # side: a ticket nobody chose is anonymous, never public (ARCHITECTURE.md).
    privacy_chosen: bool = False


@dataclass(frozen=True)
class AppendToTicket:
    """Add the citizen's follow-up message to their open ticket."""

    tracking: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    message_id: str | None = None


@dataclass(frozen=True)
class ScheduleTimeout:
    """Fire ``TimeoutFired(kind, version)`` after ``delay_seconds``; stale ones are ignored."""

    kind: str
    delay_seconds: int
    version: int


@dataclass(frozen=True)
class SetOptOut:
    """Record that the contact opted out (STOP) or back in (MULAI)."""

    opted_out: bool


@dataclass(frozen=True)
class SetLanguage:
    """Record the contact's language, for replies and ticket notifications."""

    language: str


@dataclass(frozen=True)
class DraftExpired:
    """An unfinished draft timed out (or was dropped by STOP); keep it for operators."""

    draft: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagEmergency:
    """The ticket ``tracking`` came with a message that read as an emergency (``kind``: fire,
    self_harm, ...): the inbox shows it as urgent, at the top, until it is closed."""

    tracking: str
    kind: str


@dataclass(frozen=True)
class RateTicket:
    """The citizen answered the satisfaction question of their resolved ticket ``tracking``."""

    tracking: str
    score: int  # 1..5


@dataclass(frozen=True)
class CommentRating:
    """The citizen's optional comment on the rating they just gave; it never reopens the ticket."""

    tracking: str
    text: str


@dataclass(frozen=True)
class JoinTicket:
    """IKUT/JOIN <tracking>: the citizen reports the same problem as a public ticket.

    Whether they may (a verified public ticket, not their own, within the sender's rate
    limit) is decided where the tickets are; the gateway answers with ``join.*`` texts.
    """

    tracking: str


@dataclass(frozen=True)
class FollowTicket:
    """``/start <code>``: the citizen opened a "follow on Telegram" link (Telegram's deep link).

    ``code`` is the link's start parameter, read as it came; whether it is a valid, unexpired
    link and which ticket it names is decided by the gateway (it holds the key that signed it),
    which answers with ``follow.*`` texts.
    """

    code: str


Effect = (
    Reply
    | CreateTicket
    | AppendToTicket
    | ScheduleTimeout
    | SetOptOut
    | SetLanguage
    | DraftExpired
    | FlagEmergency
    | RateTicket
    | CommentRating
    | JoinTicket
    | FollowTicket
)


def effect_to_dict(effect: Effect) -> dict[str, Any]:
    """A JSON-safe dict of an effect with its type name, for storage and scenario files."""
    out: dict[str, Any] = {"type": type(effect).__name__}
    out.update(_json_safe(asdict(effect)))
    return out


def _json_safe(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _json_safe(asdict(value))
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
