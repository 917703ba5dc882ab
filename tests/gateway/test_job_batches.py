"""Batched jobs: one worker claims several, ends them in one transaction, and a failing job is
rolled back and retried alone.

A job kind of this test (a `Handler`, handed to the worker with the listed kinds) does its
work in ``end`` and records a marker row there; the real rq worker runs the batch.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from gateway.store.models import Job, utcnow
from gateway.work import Handler, RetryLater, record_job
from gateway.work.kinds import KINDS
from gateway.work.registry import AGAIN, Result
from tests.helpers import drain_jobs

KIND = "test_batched_marker"
MARKER = "test_batched_marker_written"


class _WriteMarker(Handler):
    batch = 10

    def end(self, runtime: Any, session: Any, done: list[tuple[Any, Any]]) -> list[Result]:
        results: list[Result] = []
        for (payload, _seen), _outcome in done:
            if payload.get("again") and not any(r is None for r in results):
                results.append(AGAIN)  # not in this transaction: the runner hands it back
                continue
            try:
                with session.begin_nested():
                    record_job(session, MARKER, {"n": payload["n"]}, run_at=utcnow() + timedelta(days=30))
                    if payload.get("fail"):
                        raise ValueError(f"job {payload['n']} fails")
            except ValueError as exc:
                results.append(exc)
                continue
            results.append(RetryLater("not yet", 3600, counts=False) if payload.get("later") else None)
        return results


TEST_KINDS = (*KINDS, (KIND, _WriteMarker()))


def _jobs(runtime: Any, kind: str) -> list[Job]:
    with runtime.db.session(write=False) as session:
        return list(session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def test_a_batch_commits_together_and_a_failing_job_alone_is_retried(runtime: Any) -> None:
    with runtime.db.session() as session:
        for n in range(6):
            record_job(session, KIND, {"n": n, "fail": n == 2, "later": n == 4, "again": n == 5})
    drain_jobs(runtime, kinds=TEST_KINDS)

    jobs = {job.payload["n"]: job for job in _jobs(runtime, KIND)}
    assert {n: j.status for n, j in jobs.items()} == {
        0: "done",
        1: "done",
        2: "pending",  # failed: rolled back to its savepoint, rescheduled with backoff
        3: "done",
        4: "pending",  # asked to run later, in the same transaction as its work
        5: "done",
    }
    assert "ValueError: job 2 fails" in (jobs[2].last_error or "")
    assert jobs[2].attempts == 1 and jobs[2].run_at > utcnow()
    assert jobs[4].last_error == "not yet" and jobs[4].attempts == 0  # a retry that does not count
    # Every job but the failed one kept its marker; the failed one's was rolled back with it.
    markers = sorted(j.payload["n"] for j in _jobs(runtime, MARKER))
    assert markers == [0, 1, 3, 4, 5]
    # One rq job ran them all: the others were claimed with it and taken out of Redis.
    started = {j.started_at for n, j in jobs.items()}
    assert len(started) == 1
    assert runtime.queue.depth() == 0
