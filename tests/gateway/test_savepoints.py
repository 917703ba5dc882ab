"""Releasing a savepoint is not a commit.

SQLAlchemy calls its after_commit hooks when a savepoint is released too. The write lock
(SQLite) and the outbox push hang on those hooks, so both must wait for the real commit: a
lock given up mid-transaction let other writers into SQLite's busy handler, and a job pushed
before its row was committed was claimed by nobody until the reconciler found it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from gateway.work import record_job


def test_the_write_lock_is_kept_until_the_transaction_commits(runtime: Any) -> None:
    if runtime.db.write_lock is None:
        pytest.skip("PostgreSQL has no process write lock")
    entered = threading.Event()

    def other_writer() -> None:
        with runtime.db.session():
            entered.set()

    with runtime.db.session() as session:
        with session.begin_nested():
            session.execute(text("SELECT 1"))
        thread = threading.Thread(target=other_writer)
        thread.start()
        assert not entered.wait(0.3), "another writer got in while this transaction was open"
    assert entered.wait(5)
    thread.join(5)


def test_jobs_recorded_around_a_savepoint_reach_redis_after_the_commit(runtime: Any) -> None:
    queue = runtime.queue
    before = queue.depth()
    with runtime.db.session() as session:
        record_job(session, "test_outside_savepoint", {})
        with session.begin_nested():
            record_job(session, "test_inside_savepoint", {})
        time.sleep(0.05)
        assert queue.depth() == before  # nothing pushed while uncommitted
        try:
            with session.begin_nested():
                raise RuntimeError("roll back this savepoint only")
        except RuntimeError:
            pass
    assert queue.depth() == before + 2  # both, although a later savepoint was rolled back
