"""What a request may ask for: ids an INTEGER column holds, dates the code can reckon with.

Every route that takes an id or a date from the outside goes through here, so a value
past what the database or Python's datetime can hold answers 404 (an id) or 400 with
the reason (a date), never a 500:

* ids: ``<int:...>`` in any route is `BoundedIntConverter` (registered on the app), so
  ``/inbox/media/99999999999999999999/0`` matches no route at all. PostgreSQL's INTEGER
  is 32 bits (``integer out of range``), SQLite's 64 (``OverflowError``); the smaller
  bound holds for both.
* dates: `parse_day` (a calendar day, the inbox forms) and `parse_moment` (an ISO 8601
  date-time, the API and Open311) accept 2000-01-01 to 2999-12-31. Outside that a
  period's arithmetic (the day after 9999-12-31, 0001-01-01 in UTC+7 taken to UTC)
  overflows, and no complaint was ever filed there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from werkzeug.routing import IntegerConverter, Map

#: The largest value an INTEGER column holds on PostgreSQL (SQLite's are larger).
MAX_ID = 2**31 - 1
#: The first and last day a request may name.
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)
#: The same range for OpenAPI (a JSON Schema ``pattern``: a year 2000 to 2999).
MOMENT_PATTERN = "^2[0-9]{3}-"


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` for the whole app: 0 to MAX_ID, so a larger number matches no route (404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        kwargs.setdefault("min", -MAX_ID - 1)  # for a signed one: the column's low end
        super().__init__(map, *args, **kwargs)


def parse_id(value: str | None) -> int | None:
    """An id typed into a form or a query (digits only, within MAX_ID); None when it is not one."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def _range_error(name: str, value: str, shape: str) -> ValueError:
    return ValueError(f"{name} must be {shape} between {EARLIEST} and {LATEST}, not {value[:40]!r}")


def parse_day(value: str, name: str) -> date:
    """A calendar day ``YYYY-MM-DD`` within EARLIEST..LATEST; ValueError with the reason otherwise."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise _range_error(name, value, "a date (YYYY-MM-DD)") from None
    if not EARLIEST <= day <= LATEST:
        raise _range_error(name, value, "a date (YYYY-MM-DD)")
    return day


def parse_moment(value: str, name: str) -> datetime:
    """An ISO 8601 date-time (or date; a trailing Z and no zone mean UTC), aware, in range.

    ValueError with the reason otherwise, so every caller answers 400 the same way.
    """
    shape = "an ISO 8601 date-time such as 2026-11-02T09:00:00+07:00"
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _range_error(name, value, shape) from None
    # The day as written (what the OpenAPI pattern MOMENT_PATTERN says too); within it,
    # any offset converts to UTC without overflowing.
    if not EARLIEST <= moment.date() <= LATEST:
        raise _range_error(name, value, shape)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
