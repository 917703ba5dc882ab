"""The published figures of the seeded data set, worked out by hand (see tests/public/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.store.models import Agency
from gateway.tickets.service import Actor
from gateway.tickets.statistics import stats, stats_for
from tests.public.conftest import at


def test_figures_of_the_seeded_set(seeded: Any) -> None:
    with seeded.db.session() as session:
        figures = stats_for(seeded, session, actor=Actor.public(), now=datetime(2026, 11, 20, tzinfo=UTC))
    assert figures["total"] == 6
    assert figures["by_status"] == {
        "unverified": 1,
        "deferred": 0,
        "dispatched": 1,
        "in_progress": 1,
        "resolved": 2,
        "archived": 1,
    }
    assert figures["open"] == 3
    # #10000004 resolved Fri 6 Nov, deadline Mon 9 Nov: on time. #10000012 resolved Wed 11 Nov: late.
    assert figures["resolved"] == 2
    assert figures["resolved_within_deadline"] == 1
    assert figures["resolved_within_deadline_share"] == 0.5
    # Follow-up: 1, 2, 3 working days (Nov) and 1 (Oct) -> median 1.5. Resolution: 4 and 7 -> 5.5.
    assert figures["median_working_days_to_follow_up"] == 1.5
    assert figures["median_working_days_to_resolution"] == 5.5
    dpupr = next(row for row in figures["agencies"] if row["code"] == "dpupr")
    assert dpupr["total"] == 2 and dpupr["by_status"]["resolved"] == 2 and dpupr["open"] == 0
    unrouted = next(row for row in figures["agencies"] if row["code"] is None)
    assert unrouted["by_status"]["unverified"] == 1
    channels = {row["code"]: row["total"] for row in figures["channels"]}
    assert channels == {"sms": 2, "whatsapp": 2, "telegram": 2}
    jalan = next(row for row in figures["categories"] if row["code"] == "jalan")
    assert jalan["name"] == "Jalan rusak"
    trend = {m["month"]: m for m in figures["trend"]}
    assert len(figures["trend"]) == 12 and figures["trend"][-1]["month"] == "2026-11"
    assert trend["2026-11"] == {"month": "2026-11", "received": 5, "resolved": 2}
    assert trend["2026-10"] == {"month": "2026-10", "received": 1, "resolved": 0}


def test_period_and_agency_filters(seeded: Any) -> None:
    with seeded.db.session() as session:
        dpupr = session.query(Agency).filter_by(code="dpupr").one()
        one_agency = stats(session, agency_id=dpupr.id)
        november = stats(session, since=at(1), until=at(30))
        empty = stats(session, since=at(1, month=12), until=at(2, month=12))
    assert one_agency["total"] == 2 and one_agency["resolved_within_deadline_share"] == 0.5
    assert november["total"] == 5
    assert empty["total"] == 0
    assert empty["median_working_days_to_resolution"] is None
    assert empty["resolved_within_deadline_share"] is None
