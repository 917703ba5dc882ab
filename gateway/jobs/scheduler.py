"""The worker's clock: enqueues delayed jobs when due, and reconciles lost work.

Every ``tick`` seconds it pushes pending jobs that became due. Every
``reconcile_interval`` seconds it finds work the database holds but Redis lost
(a restart without persistence, a push that failed while Redis was down) and
jobs whose worker died mid-run, and enqueues them again. It also runs the
periodic tasks registered with `periodic`. A Redis lock lets one worker at a
time do this, however many run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from gateway.models import Job, utcnow

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

LOCK_KEY = "lapor:scheduler:lock"
# A job pushed to Redis but not seen there after this long is pushed again.
LOST_AFTER = timedelta(seconds=15)
BATCH = 500


@dataclass
class Periodic:
    name: str
    interval: float
    fn: Callable[[Runtime], None]
    last_run: float = 0.0


PERIODIC: dict[str, Periodic] = {}


def periodic(name: str, interval: float) -> Callable[[Callable[[Runtime], None]], Callable[[Runtime], None]]:
    """Register ``fn(runtime)`` to run about every ``interval`` seconds in the scheduler."""

    def register(fn: Callable[[Runtime], None]) -> Callable[[Runtime], None]:
        PERIODIC[name] = Periodic(name, interval, fn)
        return fn

    return register


def enqueue_due(runtime: Runtime) -> int:
    """Push pending jobs that are due and not yet pushed. Returns how many."""
    if runtime.queue is None:
        return 0
    now = utcnow()
    with runtime.db.session() as session:
        ids = list(
            session.scalars(
                select(Job.id)
                .where(Job.status == "pending", Job.run_at <= now, Job.enqueued_at.is_(None))
                .order_by(Job.run_at)
                .limit(BATCH)
            )
        )
        if not ids:
            return 0
        if not runtime.queue.push_many(ids):
            session.rollback()
            return 0
        session.execute(update(Job).where(Job.id.in_(ids)).values(enqueued_at=now))
    return len(ids)


def reconcile(runtime: Runtime) -> dict[str, int]:
    """Re-enqueue work the database holds but no worker will run. Idempotent."""
    settings = runtime.settings
    now = utcnow()
    stuck_before = now - timedelta(seconds=settings.job_stuck_after)
    counts = {"stuck": 0, "lost": 0}
    with runtime.db.session() as session:
        # A worker killed mid-job leaves its row "running" forever.
        counts["stuck"] = session.execute(
            update(Job)
            .where(Job.status == "running", Job.started_at < stuck_before)
            .values(status="pending", enqueued_at=None, last_error="worker lost while running; retried")
        ).rowcount
    if runtime.queue is None:
        return counts
    with runtime.db.session() as session:
        candidates = list(
            session.scalars(
                select(Job.id)
                .where(
                    Job.status == "pending",
                    Job.run_at <= now,
                    or_(Job.enqueued_at.is_(None), Job.enqueued_at < now - LOST_AFTER),
                )
                .limit(BATCH)
            )
        )
        lost = []
        for job_id in candidates:
            try:
                if not runtime.queue.exists(job_id):
                    lost.append(job_id)
            except Exception:  # Redis down: try again next pass
                return counts
        if lost and runtime.queue.push_many(lost):
            session.execute(update(Job).where(Job.id.in_(lost)).values(enqueued_at=now))
            counts["lost"] = len(lost)
    if counts["stuck"] or counts["lost"]:
        log.warning("reconciler re-enqueued work", extra=counts)
    return counts


class Scheduler:
    """Runs `enqueue_due`, `reconcile` and periodic tasks in a background thread."""

    def __init__(self, runtime: Runtime, tick: float = 1.0) -> None:
        self.runtime = runtime
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reconcile = 0.0

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="lapor-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _have_lock(self) -> bool:
        queue = self.runtime.queue
        if queue is None:
            return True
        try:
            token = f"{id(self)}"
            held = queue.redis.get(LOCK_KEY)
            if held is not None and held.decode() == token:
                queue.redis.pexpire(LOCK_KEY, int(self.tick * 3000) + 1000)
                return True
            return bool(queue.redis.set(LOCK_KEY, token, nx=True, px=int(self.tick * 3000) + 1000))
        except Exception:
            return False

    def run_once(self, force_reconcile: bool = False) -> None:
        """One pass; public so tests and `run` can drive it without the thread."""
        enqueue_due(self.runtime)
        now = time.monotonic()
        if force_reconcile or now - self._last_reconcile >= self.runtime.settings.reconcile_interval:
            self._last_reconcile = now
            reconcile(self.runtime)
        for task in PERIODIC.values():
            if now - task.last_run >= task.interval:
                task.last_run = now
                try:
                    task.fn(self.runtime)
                except Exception:
                    log.exception("periodic task failed", extra={"task": task.name})

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._have_lock():
                    self.run_once()
            except Exception:
                log.exception("scheduler pass failed")
            self._stop.wait(self.tick)
