"""The dialogue's tunables and reference data, read from the deployer-editable config.

Everything a deployer may want to change without touching code (timings, keywords,
shorthand, place words, categories, deadlines, the region keyword) is read here, so
that the engine stays a pure function of its inputs plus these files. Files are
cached by the loader per modification time, so reading them on every step is cheap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from config.loader import load_yaml as _load_yaml_from_disk
from conversations.places import AreaTable

# How long a config file read is reused before the file is looked at again. The
# engine consults the config dozens of times per step; a deployer's edit still
# shows within a second.
RELOAD_SECONDS = 1.0

_files: dict[tuple[str, str | None, bool], tuple[float, Any]] = {}
_derived: dict[str, tuple[Any, Any]] = {}


def load_yaml(name: str, env: Mapping[str, str] | None = None) -> Any:
    """config.loader.load_yaml, reused for RELOAD_SECONDS per (file, LAPOR_CONFIG_DIR)."""
    source = os.environ if env is None else env
    key = (name, source.get("LAPOR_CONFIG_DIR"), env is None)
    now = time.monotonic()
    hit = _files.get(key)
    if hit is not None and now - hit[0] < RELOAD_SECONDS:
        return hit[1]
    value = _load_yaml_from_disk(name, env)
    _files[key] = (now, value)
    return value


def derived(name: str, source: Any, build: Callable[[Any], Any]) -> Any:
    """``build(source)``, recomputed only when ``source`` (a loaded file) is a new object."""
    hit = _derived.get(name)
    if hit is not None and hit[0] is source:
        return hit[1]
    value = build(source)
    _derived[name] = (source, value)
    return value


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


def conversation_settings() -> dict[str, Any]:
    """config/conversation.yaml over the defaults above (deployer's keys win)."""
    data = load_yaml("conversation.yaml")

    def build(loaded: Any) -> dict[str, Any]:
        merged = dict(DEFAULTS)
        if isinstance(loaded, dict):
            merged.update(loaded)
        return merged

    result: dict[str, Any] = derived("conversation", data, build)
    return result


@dataclass(frozen=True)
class Category:
    """One complaint category as the dialogue needs it."""

    code: str
    names: dict[str, str]
    keywords: tuple[str, ...]
    deadlines: dict[str, int]
    # Offered in the citizen's category menu; others are reached by the words of the
    # complaint or by the coordinator (a 35-line menu does not fit an SMS).
    menu: bool = True

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("id") or self.code


def categories() -> tuple[Category, ...]:
    """The categories of the citizen's menu, in config order (``menu: false`` ones left out)."""
    return tuple(c for c in all_categories() if c.menu)


def all_categories() -> tuple[Category, ...]:
    """Every configured category, in config order."""
    result: tuple[Category, ...] = derived("categories", load_yaml("categories.yaml"), _build_categories)
    return result


def _build_categories(data: Any) -> tuple[Category, ...]:
    out: list[Category] = []
    for item in data.get("categories", []) if isinstance(data, dict) else []:
        code = str(item.get("code", "")).strip()
        if not code:
            continue
        raw_names = item.get("name") or {}
        names = {str(k): str(v) for k, v in raw_names.items()} if isinstance(raw_names, dict) else {}
        if not names:
            names = {"id": str(raw_names or code)}
        keywords = tuple(str(k).lower() for k in item.get("keywords") or ())
        deadlines = {str(k): int(v) for k, v in (item.get("deadlines") or {}).items()}
        menu = bool(item.get("menu", True))
        out.append(Category(code=code, names=names, keywords=keywords, deadlines=deadlines, menu=menu))
    return tuple(out)


def category_by_code(code: str | None) -> Category | None:
    for category in all_categories():
        if category.code == code:
            return category
    return None


def region_keyword() -> str | None:
    """The city's SMS prefix (``KTC <isi>``) from agencies.yaml, if it has one."""
    data = load_yaml("agencies.yaml")
    value = data.get("region_keyword") if isinstance(data, dict) else None
    return str(value).strip() if value else None


def city_name() -> str:
    data = load_yaml("agencies.yaml")
    return str(data.get("city", "")) if isinstance(data, dict) else ""


def deadlines(category: str | None = None) -> dict[str, int]:
    """Working-day deadlines (verify, follow_up, ...), with a category's overrides."""
    data = load_yaml("lifecycle.yaml")
    base = {"verify": 3, "follow_up": 5, "close_after": 10, "reopen_window": 10}
    if isinstance(data, dict):
        base.update({str(k): int(v) for k, v in (data.get("deadlines") or {}).items()})
    found = category_by_code(category)
    if found:
        base.update(found.deadlines)
    return base


def area_table(env: Mapping[str, str] | None = None) -> AreaTable:
    """The city's kecamatan and kelurahan with their codes (config/areas.yaml); empty when absent.

    ``env`` picks the deployer's folder (LAPOR_CONFIG_DIR) as for any config file; the
    gateway passes its runtime's so tickets and the dialogue read the same list.
    """
    try:
        data = load_yaml("areas.yaml", env)
    except FileNotFoundError:
        return _NO_AREAS
    result: AreaTable = derived("areas", data, AreaTable.from_config)
    return result


_NO_AREAS = AreaTable()
