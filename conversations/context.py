"""What the gateway tells the engine about the world for one step.

The engine reads no clock, database, file or environment variable on its own: the time,
the channel's limits, the contact's tickets and the configuration snapshot (texts,
categories, agencies, deadlines, calendar) come in here, so the same state, input and
context always give the same answer, in tests as in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conversations.snapshot import ConfigSnapshot


@dataclass(frozen=True)
class TicketInfo:
    """One of this contact's tickets, as much as the citizen may be told about it."""

    tracking: str
    status: str  # unverified, deferred, dispatched, in_progress, resolved, archived
    updated_at: datetime | None = None
    last_update: str | None = None  # the last note shown to the citizen
    agency_name: str | None = None
    #: When the satisfaction question of this (resolved) ticket was asked, while it is open:
    #: a lone digit 1-5 then rates it (conversations/satisfaction.py); None: no open question.
    rating_asked_at: datetime | None = None

    @property
    def rating_open(self) -> bool:
        return self.rating_asked_at is not None


def _epoch() -> datetime:
    return datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Context:
    """The world around one step; every field has a default so tests stay short.

    ``config`` is the configuration snapshot the whole step runs on (required: the engine
    has no other way to its config). ``now`` defaults to a fixed instant (not the clock)
    to keep the engine deterministic; the gateway always passes the real time.
    ``new_tracking`` is a tracking number the gateway reserved: the engine files a ticket
    under it (and under no other), so the confirmation can carry it. The
    ``*_seconds``/``min_description_length``/``region_keyword`` fields override the
    snapshot's conversation.yaml and agencies.yaml values when set. ``retention_months``
    comes from the gateway's settings, for the privacy notice at first contact.
    """

    config: ConfigSnapshot = field(kw_only=True)

    channel: str = "sms"
    menu_style: str = "numbered"  # "numbered" | "keyboard" | "list"
    max_text_length: int = 306
    now: datetime = field(default_factory=_epoch)
    tickets: tuple[TicketInfo, ...] = ()
    new_tracking: str = ""
    min_description_length: int | None = None
    idle_reminder_seconds: int | None = None
    idle_expiry_seconds: int | None = None
    region_keyword: str | None = None
    #: Months personal data is kept after a ticket closes (LAPOR_RETENTION_MONTHS, 0 = kept).
    #: None: not told, so no privacy notice can state it (engine tests that are not about it).
    retention_months: int | None = None
    #: The agency a ticket filed in this step goes to at once (its category is dispatched
    #: without verification and its owner is certain), by name; None: the coordinator
    #: verifies it first. The gateway works it out with the same routing that files it.
    dispatch_to: str | None = None

    def open_rating(self) -> TicketInfo | None:
        """The ticket whose satisfaction question was asked last and is still open, if any."""
        asked = [t for t in self.tickets if t.rating_asked_at is not None]
        return max(asked, key=lambda t: t.rating_asked_at or _epoch(), default=None)

    def ticket(self, tracking: str | None) -> TicketInfo | None:
        for info in self.tickets:
            if info.tracking == tracking:
                return info
        return None
