"""The conversation's intake state: where the dialogue with one contact stands.

Only the dialogue lives here (the ticket's status and message delivery have their
own columns elsewhere). The state is stored as JSON between steps, so it is plain
data: ``to_dict``/``from_dict`` round-trip exactly, and unknown keys from a newer
version are ignored rather than fatal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from adapters.base import Attachment, Location

# Stages of the dialogue. A draft exists in every stage of DRAFT_STAGES.
IDLE = "idle"  # nothing in progress; any message starts a complaint
COLLECTING = "collecting"  # asking what happened
AWAITING_LOCATION = "awaiting_location"
AWAITING_CATEGORY = "awaiting_category"
AWAITING_PRIVACY = "awaiting_privacy"
CONFIRMING = "confirming"  # summary shown, YA / TIDAK / UBAH
EDITING = "editing"  # UBAH: which field to change
FILED = "filed"  # a ticket is open; further messages are appended to it

DRAFT_STAGES = (COLLECTING, AWAITING_LOCATION, AWAITING_CATEGORY, AWAITING_PRIVACY, CONFIRMING, EDITING)
STAGES = (IDLE, *DRAFT_STAGES, FILED)

PRIVACY_CHOICES = ("public", "anonymous", "confidential")
DEFAULT_PRIVACY = "anonymous"  # a ticket whose citizen did not choose is anonymous


def _attachment_from_dict(data: dict[str, Any]) -> Attachment:
    known = {f.name for f in fields(Attachment)}
    return Attachment(**{k: v for k, v in data.items() if k in known})


def _location_from_dict(data: dict[str, Any] | None) -> Location | None:
    if not data:
        return None
    known = {f.name for f in fields(Location)}
    return Location(**{k: v for k, v in data.items() if k in known})


@dataclass
class Draft:
    """The complaint being put together, field by field.

    ``extras`` keeps texts that answered no question (a remark while the menu was
    shown, a note after the summary): they go into the ticket's description, so no
    word a citizen sends is lost. ``edit_field`` is the field the citizen chose to
    change with UBAH: it is asked again even when it could be guessed.
    """

    description: str = ""
    location_text: str = ""
    location: Location | None = None
    category: str | None = None
    category_inferred: bool = False
    privacy: str | None = None
    # Whether ``privacy`` is the citizen's own answer; False when a default or a rule (an
    # emergency filed RAHASIA) set it. The ticket keeps it: ARCHITECTURE.md treats a ticket
    # whose citizen did not choose differently (anonymous, or tighter by a rule).
    privacy_chosen: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    one_shot: bool = False
    edit_field: str | None = None
    started_at: str | None = None

    def has_location(self) -> bool:
        return bool(self.location_text.strip()) or self.location is not None

    def full_description(self) -> str:
        """The description with every extra remark, as the ticket should carry it."""
        parts = [self.description.strip(), *(e.strip() for e in self.extras)]
        return "\n".join(p for p in parts if p)

    def is_empty(self) -> bool:
        return not (
            self.description or self.location_text or self.location or self.attachments or self.extras
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Draft:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["location"] = _location_from_dict(values.get("location"))
        values["attachments"] = [_attachment_from_dict(a) for a in values.get("attachments") or []]
        values["message_ids"] = list(values.get("message_ids") or [])
        values["extras"] = list(values.get("extras") or [])
        return cls(**values)


@dataclass
class ConversationState:
    """Everything the engine remembers about one contact between messages.

    ``version`` grows on every step; timeouts carry the version they were scheduled
    at, so a reminder for a conversation that moved on is recognised as stale.
    ``menu`` holds the payloads of the numbered choices last shown, so "2" means
    what the citizen saw. ``open_ticket`` is the tracking number follow-ups go to.
    ``privacy_noticed`` lists the channels on which the citizen was already shown
    the privacy notice (once per channel: a WhatsApp reader has not seen the SMS).
    ``emergency`` is the kind of emergency the current draft reported (its ticket is
    flagged when filed); ``emergency_replies`` when each emergency text was last sent,
    so a panicked citizen is not sent the same numbers with every message.
    ``retries`` counts unrecognised answers to the current menu: after one retry the
    dialogue moves on instead of asking again. ``rating_comment`` names the ticket just
    rated and until when the next message is taken as the rating's comment.
    """

    stage: str = IDLE
    language: str = "id"
    language_explicit: bool = False
    opted_out: bool = False
    draft: Draft | None = None
    menu: list[str] = field(default_factory=list)
    menu_page: int = 0
    version: int = 0
    last_activity: str | None = None  # ISO 8601, aware
    reminded: bool = False
    open_ticket: str | None = None
    privacy_noticed: list[str] = field(default_factory=list)  # channels told the privacy notice
    emergency: str | None = None
    emergency_replies: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    #: After a rating: the ticket whose comment the next message is, and until when (ISO 8601).
    rating_comment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls, language: str = "id") -> ConversationState:
        return cls(language=language)

    @property
    def pending(self) -> str | None:
        """The question the citizen is expected to answer, if any."""
        return {
            COLLECTING: "description",
            AWAITING_LOCATION: "location",
            AWAITING_CATEGORY: "category",
            AWAITING_PRIVACY: "privacy",
            CONFIRMING: "confirm",
            EDITING: "edit",
        }.get(self.stage)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["draft"] = self.draft.to_dict() if self.draft else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ConversationState:
        if not data:
            return cls.new()
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        draft = values.get("draft")
        values["draft"] = Draft.from_dict(draft) if isinstance(draft, dict) else None
        values["menu"] = list(values.get("menu") or [])
        values["privacy_noticed"] = [str(c) for c in values.get("privacy_noticed") or []]
        values["emergency_replies"] = dict(values.get("emergency_replies") or {})
        values["rating_comment"] = dict(values.get("rating_comment") or {})
        state = cls(**values)
        if state.stage not in STAGES:
            state.stage = IDLE if state.draft is None else COLLECTING
        return state

    def copy(self) -> ConversationState:
        return ConversationState.from_dict(self.to_dict())
