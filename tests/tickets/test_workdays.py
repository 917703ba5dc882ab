"""Working days across weekends, national holidays, cuti bersama, regional holidays and year ends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from conversations.workdays import WorkCalendar, local_date, merged_deadlines
from tests.catalogue import catalogue_config


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    """The test catalogue's: the national calendar plus Hari Jadi Kota Contoh on 2026-08-20."""
    return catalogue_config().calendar


def test_weekend_and_a_plain_week(calendar: WorkCalendar) -> None:
    assert calendar.is_working_day(date(2025, 10, 14))  # a Tuesday
    assert not calendar.is_working_day(date(2025, 10, 18))  # Saturday
    assert not calendar.is_working_day(date(2025, 10, 19))  # Sunday
    # Received on a Friday: three working days is Wednesday.
    assert calendar.add_working_days(date(2025, 10, 17), 3) == date(2025, 10, 22)


def test_national_holiday(calendar: WorkCalendar) -> None:
    assert calendar.holiday_name(date(2025, 8, 18)) is not None  # cuti bersama after Independence Day
    assert calendar.holiday_name(date(2025, 12, 25)) == "Hari Raya Natal"
    assert not calendar.is_working_day(date(2025, 5, 1))  # Labour Day, a Thursday


def test_cuti_bersama_is_a_day_off(calendar: WorkCalendar) -> None:
    """Cuti bersama comes from the library's ``government`` category, not ``public``."""
    name = calendar.holiday_name(date(2025, 12, 26))
    assert name is not None and "Cuti Bersama" in name
    assert not calendar.is_working_day(date(2025, 12, 26))  # a Friday


def test_lebaran_block(calendar: WorkCalendar) -> None:
    """Idul Fitri 2025 with its cuti bersama: Thursday 27 March to Tuesday 8 April is one working day."""
    assert calendar.add_working_days(date(2025, 3, 27), 1) == date(2025, 4, 8)
    assert calendar.working_days_between(date(2025, 3, 27), date(2025, 4, 8)) == 1
    # A complaint received during the holiday counts from the first working day after it.
    assert calendar.add_working_days(date(2025, 4, 2), 3) == date(2025, 4, 10)


def test_regional_holiday_from_config(calendar: WorkCalendar) -> None:
    assert calendar.holiday_name(date(2026, 8, 20)) == "Hari Jadi Kota Contoh"  # a Thursday
    assert calendar.add_working_days(date(2026, 8, 19), 1) == date(2026, 8, 21)
    assert WorkCalendar().is_working_day(date(2026, 8, 20))  # without the config it is a working day


def test_date_moved_by_decree() -> None:
    """A decree moves the Nyepi cuti bersama from Wednesday 18 to Tuesday 17 March 2026."""
    moved = WorkCalendar.from_mapping(
        {"remove": ["2026-03-18"], "add": [{"date": date(2026, 3, 17), "name": "Cuti Bersama Nyepi (SKB)"}]}
    )
    assert moved.is_working_day(date(2026, 3, 18))
    assert not moved.is_working_day(date(2026, 3, 17))
    assert moved.holiday_name(date(2026, 3, 17)) == "Cuti Bersama Nyepi (SKB)"
    # Removing a date does not turn a real holiday next to it into a working day.
    assert not moved.is_working_day(date(2026, 3, 19))


def test_year_end(calendar: WorkCalendar) -> None:
    # 24 Dec 2025 works; 25 (Natal), 26 (cuti bersama), 27-28 (weekend) do not.
    assert calendar.add_working_days(date(2025, 12, 23), 3) == date(2025, 12, 30)
    # Across New Year's Day into the next year.
    assert calendar.add_working_days(date(2025, 12, 30), 2) == date(2026, 1, 2)
    # 2026: cuti bersama on Thursday 24 Dec, Natal on Friday 25 Dec.
    assert calendar.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    # 29, 30, 31 Dec, 2 Jan, 5 Jan.
    assert calendar.working_days_between(date(2025, 12, 24), date(2026, 1, 5)) == 5


def test_between_is_signed_and_excludes_the_start(calendar: WorkCalendar) -> None:
    start, end = date(2025, 10, 13), date(2025, 10, 20)  # Monday to Monday
    assert calendar.working_days_between(start, end) == 5
    assert calendar.working_days_between(end, start) == -5
    assert calendar.working_days_between(start, start) == 0


def test_zero_days_rolls_to_a_working_day(calendar: WorkCalendar) -> None:
    assert calendar.add_working_days(date(2025, 10, 18), 0) == date(2025, 10, 20)
    with pytest.raises(ValueError):
        calendar.add_working_days(date(2025, 10, 18), -1)


def test_stage_deadlines_with_overrides(calendar: WorkCalendar) -> None:
    monday = date(2025, 10, 13)
    assert calendar.deadline(monday, "verify") == date(2025, 10, 16)
    assert calendar.deadline(monday, "follow_up") == date(2025, 10, 20)
    table = merged_deadlines({"follow_up": 5}, {"follow_up": 2})
    assert calendar.deadline(monday, "follow_up", table) == date(2025, 10, 15)
    with pytest.raises(KeyError):
        calendar.deadline(monday, "coffee")


def test_local_date_is_western_indonesian_time() -> None:
    assert local_date(datetime(2025, 12, 31, 18, 30, tzinfo=UTC)) == date(2026, 1, 1)
    assert local_date(datetime(2025, 12, 31, 16, 59, tzinfo=UTC)) == date(2025, 12, 31)
    assert local_date(datetime(2025, 12, 31, 16, 0, tzinfo=UTC), "Asia/Jayapura") == date(2026, 1, 1)
