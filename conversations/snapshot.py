"""The configuration the dialogue runs on: one immutable snapshot, handed in with the context.

The gateway's `Runtime` reads the config folders (`config.files.read_config`, the loader
`lapor-gateway config check` runs) and builds a `ConfigSnapshot` from the result; every
engine step receives it in `Context.config`, as goflow hands a session its assets. Nothing
in conversations/ reads a file, the environment or a clock: the same state, input and
snapshot always give the same answer. Everything derived from the files (the keyword
tables, the emergency phrases, the routing rules, the area table, the working-day calendar)
is built here once per snapshot, so a turn does no parsing and keeps no cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config.catalog import Catalog, CategoryConfig
from config.files import ConfigFiles
from conversations.emergency import EmergencyRules
from conversations.keywords import KeywordTable
from conversations.places import AreaTable
from conversations.routing_score import Rules, build_rules
from conversations.workdays import DEFAULT_TIMEZONE, WorkCalendar, merged_deadlines

DEFAULTS: dict[str, Any] = {
    # Characters a description needs before we stop asking for more.
    "min_description_length": 15,
    # Silence before the one reminder about an unfinished draft.
    "idle_reminder_seconds": 3600,
    # Silence (since the last message) before a draft expires.
    "idle_expiry_seconds": 21600,
    # Whether the citizen gets a short notice when their draft expires.
    "notify_on_expiry": True,
    # Days after the last message during which new messages go to the open ticket.
    "append_window_days": 30,
    # Whether the dialogue asks the privacy question (else anonymous by default).
    "ask_privacy": True,
    # Hours after a satisfaction rating during which the next message is its comment.
    "rating_comment_hours": 24,
    # Buttons per menu page, per menu style.
    "max_buttons": {"numbered": 20, "keyboard": 20, "list": 10},
    # Longest button title (WhatsApp list rows allow 24).
    "button_title_max": 24,
    # Keywords this long (or longer) tolerate one typo.
    "typo_min_length": 4,
    "typo_exempt": [],
    "keywords": {},
    "languages": {"en": ["en"], "id": ["id"]},
    "fields": {},
    "privacy_words": {},
    "shorthand": {},
    "location": {},
    # The category of a complaint the citizen cannot place, and the answers that mean it.
    "other_category": "lainnya",
    "other_category_words": [],
}


@dataclass(frozen=True)
class ConfigSnapshot:
    """One consistent reading of every config file, and what is derived from it."""

    catalog: Catalog
    #: config/conversation.yaml over `DEFAULTS` (the deployer's keys win).
    conversation: Mapping[str, Any]
    #: SMS shorthand, lower case ("jln" -> "jalan").
    shorthand: Mapping[str, str]
    keywords: KeywordTable
    #: Text catalogs per language, the deployer's file first, then the shipped one.
    messages: Mapping[str, tuple[Mapping[str, Any], ...]]
    emergency: EmergencyRules
    rules: Rules
    areas: AreaTable
    calendar: WorkCalendar
    timezone: str = DEFAULT_TIMEZONE
    escalate_after: int = 2
    archive_reasons: Mapping[str, Any] = field(default_factory=dict)
    #: Each file's parsed data, for the readers that take the document as it is.
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, files: ConfigFiles) -> ConfigSnapshot:
        """Everything derived from ``files``, built once (pure: the files were read by the caller)."""
        data = files.data
        lifecycle = files.models["lifecycle.yaml"]
        conversation = dict(DEFAULTS)
        conversation.update(data.get("conversation.yaml") or {})
        shorthand = {str(k).lower(): str(v).lower() for k, v in (conversation.get("shorthand") or {}).items()}
        return cls(
            catalog=Catalog.from_models(
                files.models["agencies.yaml"], files.models["categories.yaml"], lifecycle
            ),
            conversation=conversation,
            shorthand=shorthand,
            keywords=KeywordTable.from_settings(conversation),
            messages=files.messages,
            emergency=EmergencyRules.from_config(data.get("emergency.yaml") or {}, shorthand),
            rules=build_rules(data.get("categories.yaml") or {}, data.get("routing.yaml") or {}, shorthand),
            areas=AreaTable.from_config(data.get("areas.yaml") or {}),
            calendar=WorkCalendar.from_mapping(data.get("holidays.yaml") or {}),
            timezone=lifecycle.timezone,
            escalate_after=lifecycle.escalate_after,
            archive_reasons={str(k): v for k, v in lifecycle.archive_reasons.items()},
            data=data,
        )

    # ------------------------------------------------------------------ the catalog, as the dialogue asks
    @property
    def city(self) -> str:
        return self.catalog.city

    @property
    def region_keyword(self) -> str | None:
        """The city's SMS prefix (``KTC <isi>``) from agencies.yaml, if it has one."""
        return self.catalog.region_keyword

    @property
    def categories(self) -> tuple[CategoryConfig, ...]:
        """The categories of the citizen's menu, in config order (``menu: false`` ones left out)."""
        return tuple(c for c in self.catalog.categories if c.menu)

    def category(self, code: str | None) -> CategoryConfig | None:
        return self.catalog.category(code)

    def deadlines(self, category: str | None = None) -> dict[str, int]:
        """Working-day deadlines (verify, follow_up, ...): defaults, lifecycle.yaml, the category's."""
        found = self.catalog.category(category)
        return merged_deadlines(self.catalog.deadlines, found.deadlines if found else None)
