"""Test helpers that drive the real machinery (rq worker, scheduler), never fakes."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

from gateway.jobs.runner import JobRunner
from gateway.jobs.scheduler import enqueue_due, reconcile
from gateway.models import Job
from gateway.worker import LaporWorker


def pending_due(runtime: Any) -> int:
    from gateway.models import utcnow

    with runtime.db.session() as session:
        return int(
            session.scalar(select(func.count(Job.id)).where(Job.status == "pending", Job.run_at <= utcnow()))
            or 0
        )


def drain_jobs(runtime: Any, rounds: int = 30, wait_delayed: float = 0.0) -> None:
    """Work the queue in burst mode until no due job is left (the worker's own rq worker class,
    which hands ``runtime`` to the jobs; one thread, no send threads).

    ``wait_delayed`` seconds: also wait for jobs scheduled a little later (retries).
    """
    deadline = time.time() + wait_delayed
    for _ in range(rounds):
        enqueue_due(runtime)
        reconcile(runtime)
        jobs = JobRunner(runtime)
        try:
            LaporWorker.for_jobs(jobs, runtime.queue.redis).work(burst=True, logging_level="ERROR")
        finally:
            jobs.close()
        if pending_due(runtime) == 0:
            if time.time() >= deadline:
                return
            time.sleep(0.2)
