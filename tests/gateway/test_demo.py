"""Demo seeding: agencies, operators with generated passwords, and tickets that never text anyone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.devtools.demo import DEMO_TICKETS, seed
from gateway.store.models import Contact, Operator, Ticket


def test_demo_seed_is_idempotent_and_safe(runtime: Any, drain: Any, providers: dict[str, Any]) -> None:
    seed(runtime, demo=True)
    seed(runtime, demo=True)
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Ticket.id))) == len(DEMO_TICKETS)
        assert session.scalar(select(func.count(Operator.id))) == 3
        statuses = set(session.scalars(select(Ticket.status)))
        assert {"unverified", "dispatched", "in_progress", "resolved", "deferred"} <= statuses
        assert all(session.scalars(select(Contact.opted_out)))
    credentials = (runtime.settings.data_dir / "demo-credentials.txt").read_text()
    assert "admin@lapor.local" in credentials
    drain()
    assert providers["sms"].requests == []  # made-up numbers never get a message
