"""Migration 0005_visibility: existing tickets get `verified_at` from their history.

A ticket disposed by a person is verified from that disposition; one the system
disposed, from the agency's first step; one never acted on by a person, or never
dispatched (archived from verification), stays unverified and so leaves the public list.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from gateway.store.db import Database
from gateway.store.migrate import upgrade

T0 = datetime(2026, 11, 2, 5, 0)


def _at(hour: int) -> datetime:
    return T0.replace(hour=hour)


def test_backfill_from_history(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0002")
    tickets = {
        # tracking: (status, dispatched_at, [(action, actor_type, hour)])
        "10000004": ("dispatched", _at(6), [("dispose", "operator", 6)]),
        "10000012": ("in_progress", _at(6), [("dispose", "system", 6), ("start", "operator", 9)]),
        "10000020": ("dispatched", _at(6), [("dispose", "system", 6), ("note", "operator", 7)]),
        "10000036": ("archived", None, [("archive", "operator", 8)]),
        "10000048": ("unverified", None, [("created", "citizen", 5)]),
    }
    with db.engine.begin() as conn:
        for n, (tracking, (status, dispatched, events)) in enumerate(tickets.items(), start=1):
            conn.execute(
                text(
                    "INSERT INTO tickets (id, tracking, status, description, privacy, privacy_chosen, "
                    "language, source, consent_recorded, overdue, has_unread, created_at, updated_at, "
                    "last_activity_at, dispatched_at, data) VALUES (:id, :tracking, :status, 'x', "
                    "'anonymous', 0, 'id', 'message', 0, 0, 0, :t0, :t0, :t0, :dispatched, '{}')"
                ),
                {"id": n, "tracking": tracking, "status": status, "t0": T0, "dispatched": dispatched},
            )
            for action, actor, hour in events:
                conn.execute(
                    text(
                        "INSERT INTO ticket_events (ticket_id, action, actor_type, internal, data, "
                        "created_at) VALUES (:id, :action, :actor, 0, '{}', :at)"
                    ),
                    {"id": n, "action": action, "actor": actor, "at": _at(hour)},
                )
    upgrade(db)
    with db.engine.connect() as conn:
        verified = dict(conn.execute(text("SELECT tracking, verified_at FROM tickets")).all())
    db.dispose()
    assert {k: v is not None for k, v in verified.items()} == {
        "10000004": True,  # the coordinator disposed it
        "10000012": True,  # auto-dispatched, then the agency started it
        "10000020": False,  # auto-dispatched; a note is not the agency's first step
        "10000036": False,  # archived before any disposition
        "10000048": False,
    }
    assert str(verified["10000012"]).startswith("2026-11-02 09:00")
