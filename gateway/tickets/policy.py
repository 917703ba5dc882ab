"""The deployer's ticket settings: deadlines, time zone, calendar and archive reasons.

Read from the runtime's configuration snapshot (config/lifecycle.yaml, holidays.yaml and
categories.yaml, the deployer's copy first), so the ticket service counts with the same
calendar and deadlines the conversation promised from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from conversations.workdays import WorkCalendar, local_date
from gateway.store.models import utcnow

if TYPE_CHECKING:
    from gateway.runtime import Runtime


def calendar(runtime: Runtime) -> WorkCalendar:
    """The working-day calendar of this deployment."""
    return runtime.config.calendar


def timezone(runtime: Runtime) -> str:
    return runtime.config.timezone


def today(runtime: Runtime, now: datetime | None = None) -> date:
    """Today where the agencies work."""
    return local_date(now or utcnow(), timezone(runtime))


def deadlines(runtime: Runtime, category: str | None) -> dict[str, int]:
    """lifecycle.yaml deadlines with the category's overrides (categories.yaml ``deadlines``)."""
    return runtime.config.deadlines(category)


def escalate_after(runtime: Runtime) -> int:
    """Working days past a missed deadline before the coordinator is alerted."""
    return runtime.config.escalate_after


def archive_reason_text(runtime: Runtime, reason: str, language: str, **params: Any) -> str:
    """The citizen-facing words for an archive reason, in ``language`` (Indonesian as fallback)."""
    reasons = runtime.config.archive_reasons
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
