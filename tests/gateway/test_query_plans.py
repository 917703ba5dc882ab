"""The per-contact lookups of the hot paths use an index by contact, and the migrations build the
schema the models describe.

Without `ix_messages_contact_direction`, SQLite answered "this contact's unprocessed messages",
"this sender's messages in the last minute" and "this contact's held-back notices" through the
(direction, processed_at) index, reading every unprocessed or outbound message of every contact:
each job and each webhook got slower as the backlog and the table grew.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from gateway.messages.ratelimit import recent_inbound_count
from gateway.store.db import Database
from gateway.store.migrate import upgrade
from gateway.store.models import Base, ContactAddress
from gateway.work.handlers.turn import _ANY_WAITING, _PENDING


def _plan(db: Database, statement: Any, params: dict[str, Any]) -> str:
    # Literal values: the batched lookups take lists ("contact_id IN (...)").
    compiled = statement.params(**params).compile(
        dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled)).all()
    return " | ".join(str(row[-1]) for row in rows)


def test_per_contact_lookups_use_the_contact_index(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'plans.db'}")
    try:
        upgrade(db)
        pending = _plan(db, _PENDING, {"cids": [7, 8]})
        any_waiting = _plan(db, _ANY_WAITING, {"cids": [7, 8]})
        addresses = ContactAddress.__table__.c
        sender = select(addresses.contact_id, recent_inbound_count(addresses.contact_id)).where(
            addresses.address == "tel:+6281200000001"
        )  # the webhook's sender lookup with its rate count
        recent = _plan(db, sender, {"b_since": datetime(2026, 1, 1)})
    finally:
        db.dispose()
    assert "ix_messages_contact_direction (contact_id=? AND direction=?)" in pending
    assert "ix_messages_contact_direction (contact_id=? AND direction=?)" in any_waiting
    assert "ix_messages_contact_direction (contact_id=? AND direction=?)" in recent


def test_the_migrations_build_what_the_models_describe(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'schema.db'}")
    try:
        upgrade(db)
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        db.dispose()
    assert differences == []
