"""Old delivery receipts are deleted by a periodic task, applied or not; recent ones stay, so an
early receipt still waits for the send that will apply it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from gateway.messages.receipt_cleanup import KEEP, delete_old_receipts
from gateway.store.models import DeliveryReceipt, utcnow
from gateway.work.periodic import TASKS
from gateway.work.scheduler import Scheduler


def _receipt(session: Any, pid: str, *, age: timedelta, applied: bool = False) -> None:
    session.add(
        DeliveryReceipt(
            channel="sms",
            provider_message_id=pid,
            status="delivered",
            raw={"msisdn": "6281200000001", "messageId": pid},
            applied=applied,
            created_at=utcnow() - age,
        )
    )


def test_receipts_older_than_the_limit_are_deleted_and_recent_ones_kept(runtime: Any) -> None:
    with runtime.db.session() as session:
        _receipt(session, "part-2-of-a-long-sms", age=KEEP + timedelta(hours=1))
        _receipt(session, "applied-long-ago", age=KEEP + timedelta(days=30), applied=True)
        _receipt(session, "early-receipt", age=timedelta(seconds=5))
    assert delete_old_receipts(runtime) == 2
    with runtime.db.session(write=False) as session:
        left = session.scalars(select(DeliveryReceipt.provider_message_id)).all()
    assert left == ["early-receipt"]
    assert delete_old_receipts(runtime) == 0


def test_the_scheduler_runs_the_cleanup(runtime: Any) -> None:
    with runtime.db.session() as session:
        _receipt(session, "part-3-of-a-long-sms", age=KEEP + timedelta(days=1))
    Scheduler(runtime, tasks=TASKS).run_once()  # a new scheduler runs every task at its first pass
    with runtime.db.session(write=False) as session:
        assert session.scalars(select(DeliveryReceipt.id)).all() == []
