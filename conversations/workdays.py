"""Indonesian working days: weekends, national holidays, cuti bersama and regional holidays.

Deadlines of public-service complaints are counted in working days (hari kerja).
The national calendar comes from the ``holidays`` library's Indonesian calendar
with both its ``public`` category (national holidays) and its ``government``
category (cuti bersama, the collective leave days the government adds around
them). A deployer adds regional holidays and corrects dates moved by decree in
config/holidays.yaml, because the library cannot know a city's anniversary or a
decree issued after its release.

Pure: the gateway reads the file and builds the calendar into its configuration snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays

#: Days of the week off (Monday is 0): Saturday and Sunday.
WEEKEND: frozenset[int] = frozenset({5, 6})
#: Where deadlines are counted when config/lifecycle.yaml names no time zone (WIB).
DEFAULT_TIMEZONE = "Asia/Jakarta"
#: Working-day deadlines when config/lifecycle.yaml says nothing (ARCHITECTURE.md).
DEFAULT_DEADLINES: Mapping[str, int] = {"verify": 3, "follow_up": 5, "close_after": 10, "reopen_window": 10}
# A guard against a loop that can never finish (a calendar where every day is off).
_MAX_SCAN_DAYS = 3660


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def _entries(items: Iterable[Any] | None) -> dict[date, str]:
    """``[{date: 2026-08-20, name: ...}, "2026-08-21", ...]`` -> {date: name}."""
    out: dict[date, str] = {}
    for item in items or ():
        if isinstance(item, Mapping):
            out[_as_date(item["date"])] = str(item.get("name") or "")
        else:
            out[_as_date(item)] = ""
    return out


class WorkCalendar:
    """Which days are working days, and counting in them.

    ``extra`` holds regional holidays (and the new date of a moved holiday);
    ``removed`` holds dates the national calendar lists but that are working
    days after all (the old date of a moved holiday).
    """

    def __init__(
        self,
        extra: Mapping[date, str] | None = None,
        removed: Iterable[date] = (),
        *,
        national: bool = True,
    ) -> None:
        self.extra: dict[date, str] = dict(extra or {})
        self.removed: frozenset[date] = frozenset(removed)
        # expand=True: years are filled in on first lookup, so year ends need no care here.
        self._national: Mapping[date, str] = (
            holidays.country_holidays("ID", categories=("public", "government"), language="id")
            if national
            else {}
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> WorkCalendar:
        """Build from the parsed config/holidays.yaml (``add`` and ``remove`` lists)."""
        data = data or {}
        return cls(extra=_entries(data.get("add")), removed=_entries(data.get("remove")).keys())

    # -- single days ----------------------------------------------------------------
    def holiday_name(self, day: date) -> str | None:
        """Why ``day`` is off ("Hari Raya Natal"); None on working days and weekends."""
        if day in self.extra:
            return self.extra[day] or "Libur daerah"
        if day in self.removed:
            return None
        return self._national.get(day)

    def is_working_day(self, day: date) -> bool:
        if day.weekday() in WEEKEND:
            return False
        return self.holiday_name(day) is None

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first one after it."""
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no working day found within ten years")

    # -- counting -------------------------------------------------------------------
    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself never counts).

        A complaint received on Friday evening with a 3-day deadline is due on
        Wednesday; one received on a holiday counts from the next working day the
        same way. ``days`` = 0 gives ``start`` rolled forward to a working day.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        if days == 0:
            return self.next_working_day(start)
        day = start
        counted = 0
        for _ in range(_MAX_SCAN_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    return day
        raise ValueError("no working day found within ten years")

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``; negative when ``end`` is earlier."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count

    def deadline(self, start: date, stage: str, deadlines: Mapping[str, int] | None = None) -> date:
        """The last day of ``stage`` (verify, follow_up, close_after...) begun on ``start``."""
        table = dict(DEFAULT_DEADLINES)
        table.update(deadlines or {})
        if stage not in table:
            raise KeyError(f"no deadline configured for stage {stage!r}")
        return self.add_working_days(start, int(table[stage]))


def local_date(moment: datetime, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The calendar date of ``moment`` where the agencies work (a naive value is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).date()


def merged_deadlines(
    base: Mapping[str, Any] | None, override: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Defaults, then config/lifecycle.yaml, then a category's ``deadlines``."""
    table = dict(DEFAULT_DEADLINES)
    for source in (base or {}, override or {}):
        table.update({str(k): int(v) for k, v in source.items()})
    return table
