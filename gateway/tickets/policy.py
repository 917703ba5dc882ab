"""The deployer's ticket settings: deadlines, time zone, calendar and archive reasons.

Read from config/lifecycle.yaml, config/holidays.yaml and config/categories.yaml
(the deployer's copy in LAPOR_CONFIG_DIR first). The calendar is rebuilt only
when holidays.yaml changes, because building it reads the file and the holidays
library computes a year's dates on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml

from config.loader import find_config_file, load_yaml
from conversations.workdays import DEFAULT_TIMEZONE, WorkCalendar, local_date, merged_deadlines
from gateway.models import utcnow

if TYPE_CHECKING:
    from gateway.runtime import Runtime

#: Working days past a missed deadline before the coordinator is alerted, when lifecycle.yaml is silent.
DEFAULT_ESCALATE_AFTER = 2


def _lifecycle(runtime: Runtime) -> Mapping[str, Any]:
    try:
        data = load_yaml("lifecycle.yaml", runtime.settings.env)
    except FileNotFoundError:
        return {}
    return data if isinstance(data, Mapping) else {}


@lru_cache(maxsize=8)
def _calendar_cached(path: str, _mtime: int) -> WorkCalendar:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return WorkCalendar.from_mapping(data if isinstance(data, Mapping) else {})


def calendar(runtime: Runtime) -> WorkCalendar:
    """The working-day calendar of this deployment."""
    try:
        path = find_config_file("holidays.yaml", runtime.settings.env)
    except FileNotFoundError:
        return WorkCalendar()
    return _calendar_cached(str(path), path.stat().st_mtime_ns)


def timezone(runtime: Runtime) -> str:
    return str(_lifecycle(runtime).get("timezone") or DEFAULT_TIMEZONE)


def today(runtime: Runtime, now: datetime | None = None) -> date:
    """Today where the agencies work."""
    return local_date(now or utcnow(), timezone(runtime))


def deadlines(runtime: Runtime, category: str | None) -> dict[str, int]:
    """lifecycle.yaml deadlines with the category's overrides (categories.yaml ``deadlines``)."""
    catalog = runtime.catalog
    found = catalog.category(category)
    return merged_deadlines(catalog.deadlines, found.deadlines if found else None)


def escalate_after(runtime: Runtime) -> int:
    return int(_lifecycle(runtime).get("escalate_after", DEFAULT_ESCALATE_AFTER))


def archive_reason_text(runtime: Runtime, reason: str, language: str, **params: Any) -> str:
    """The citizen-facing words for an archive reason, in ``language`` (Indonesian as fallback)."""
    reasons = _lifecycle(runtime).get("archive_reasons") or {}
    entry = reasons.get(reason) if isinstance(reasons, Mapping) else None
    if isinstance(entry, Mapping):
        template = str(entry.get(language) or entry.get("id") or reason)
    elif entry:
        template = str(entry)
    else:
        template = reason.replace("_", " ")
    for key, value in params.items():
        template = template.replace("{" + key + "}", str(value))
    return template
