"""Test helpers that drive the real machinery (rq worker, scheduler), never fakes."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from gateway.store.models import Job
from gateway.work.kinds import KINDS, Kinds
from gateway.work.runner import JobRunner
from gateway.work.scheduler import enqueue_due, reconcile
from gateway.work.worker import LaporWorker


def pending_due(runtime: Any, within: float = 0.0) -> int:
    """Pending jobs due now, or within ``within`` seconds."""
    from gateway.store.models import utcnow

    due_by = utcnow() + timedelta(seconds=within)
    with runtime.db.session() as session:
        return int(
            session.scalar(select(func.count(Job.id)).where(Job.status == "pending", Job.run_at <= due_by))
            or 0
        )


def drain_jobs(runtime: Any, rounds: int = 30, wait_delayed: float = 0.0, kinds: Kinds = KINDS) -> None:
    """Work the queue in burst mode until no due job is left (the worker's own rq worker class,
    which hands ``runtime`` to the jobs; one thread, no send threads).

    ``wait_delayed`` seconds: also wait that long for jobs scheduled a little later (retries),
    and for any job due within that many seconds of the last round (a retry scheduled late in
    the drain, on a slow machine, is still waited for). ``kinds``: the job kinds the worker runs
    (a test adds kinds of its own to `gateway.work.kinds.KINDS`).
    """
    deadline = time.time() + wait_delayed
    for _ in range(rounds):
        enqueue_due(runtime)
        reconcile(runtime)
        jobs = JobRunner(runtime, kinds=kinds)
        try:
            LaporWorker.for_jobs(jobs, runtime.queue.redis).work(burst=True, logging_level="ERROR")
        finally:
            jobs.close()
        if pending_due(runtime) == 0:
            if time.time() >= deadline and pending_due(runtime, within=wait_delayed) == 0:
                return
            time.sleep(0.2)
