"""The worker's clock: enqueues delayed jobs when due, and reconciles lost work.

Every ``tick`` seconds it pushes pending jobs that became due. Every
``reconcile_interval`` seconds it finds work the database holds but Redis lost
(a restart without persistence, a push that failed while Redis was down) and
jobs whose worker died mid-run, and enqueues them again. It also runs the
periodic tasks it is given (the worker gives it `gateway.work.periodic.TASKS`). A Redis
lock lets one worker at a time do this, however many run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from gateway.ops.outage import OutageReport, is_storage_outage
from gateway.store.db import rowcount
from gateway.store.models import Job, utcnow
from gateway.work.attempts import heartbeat_key

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

LOCK_KEY = "lapor:scheduler:lock"
# A job pushed to Redis but not seen there after this long is pushed again.
LOST_AFTER = timedelta(seconds=15)
# A running job without a heartbeat for this long (seconds), at two passes in a row, is abandoned.
HEARTBEAT_GRACE = 15.0
BATCH = 500


@dataclass(frozen=True)
class Periodic:
    """``fn(runtime)``, run about every ``interval`` seconds by the scheduler (gateway/work/periodic.py)."""

    name: str
    interval: float
    fn: Callable[[Runtime], object]


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


def _abandoned(
    runtime: Runtime, rows: list[tuple[int, datetime | None]], now: datetime, suspects: set[int]
) -> list[int]:
    """Running jobs whose worker is gone: no heartbeat twice in a row (or past job_stuck_after
    when Redis cannot tell). ``suspects`` holds, from one pass to the next, the rows whose
    heartbeat was missing at the previous pass: a Redis restart that wiped live heartbeats
    for an instant then does not make the reconciler re-run a job that is still running."""
    stuck_before = now - timedelta(seconds=runtime.settings.job_stuck_after)
    grace_before = now - timedelta(seconds=min(runtime.settings.job_stuck_after, HEARTBEAT_GRACE))
    alive: dict[int, bool | None] = {}
    queue = runtime.queue
    for job_id, _started in rows:
        if queue is None:
            alive[job_id] = None
            continue
        try:
            alive[job_id] = bool(queue.redis.exists(heartbeat_key(job_id)))
        except Exception:  # Redis down: fall back on the age of the row
            alive[job_id] = None
    missing = {
        job_id
        for job_id, started in rows
        if alive[job_id] is False and (started is None or started < grace_before)
    }
    dead = [job_id for job_id in missing if job_id in suspects]
    dead += [
        job_id
        for job_id, started in rows
        if alive[job_id] is None and (started is None or started < stuck_before)
    ]
    suspects.clear()
    suspects.update(missing - set(dead))
    return dead


def reconcile(runtime: Runtime, suspects: set[int] | None = None) -> dict[str, int]:
    """Re-enqueue work the database holds but no worker will run. Idempotent.

    ``suspects``: the set the previous pass left (see `_abandoned`); the scheduler keeps one.
    Without it, a running job whose heartbeat is missing is only suspected, never recovered
    (unless Redis cannot tell and it is older than ``job_stuck_after``)."""
    now = utcnow()
    counts = {"stuck": 0, "lost": 0, "failed": 0}
    with runtime.db.session(write=False) as session:
        rows = [
            (job_id, started)
            for job_id, started in session.execute(
                select(Job.id, Job.started_at).where(Job.status == "running").limit(BATCH)
            )
        ]
    dead = _abandoned(runtime, rows, now, set() if suspects is None else suspects) if rows else []
    if dead:
        with runtime.db.session() as session:
            # A job that killed its worker every time (out of memory, a crash in C code)
            # stops at max_attempts instead of taking down every worker in turn.
            counts["failed"] = rowcount(
                session,
                update(Job)
                .where(Job.id.in_(dead), Job.status == "running", Job.attempts >= Job.max_attempts)
                .values(status="failed", finished_at=now, last_error="worker lost while running, every time"),
            )
            counts["stuck"] = rowcount(
                session,
                update(Job)
                .where(Job.id.in_(dead), Job.status == "running")
                .values(
                    status="pending",
                    run_at=now,
                    enqueued_at=None,
                    last_error="worker lost while running; retried",
                ),
            )
    if runtime.queue is None:
        return counts
    lost_after = timedelta(
        seconds=min(LOST_AFTER.total_seconds(), max(1.0, runtime.settings.reconcile_interval))
    )
    with runtime.db.session() as session:
        candidates = list(
            session.scalars(
                select(Job.id)
                .where(
                    Job.status == "pending",
                    Job.run_at <= now,
                    or_(Job.enqueued_at.is_(None), Job.enqueued_at < now - lost_after),
                )
                .limit(BATCH)
            )
        )
        lost = []
        for job_id in candidates:
            try:
                # A heartbeat means a worker holds it in its own send queue (see ConcurrentJobs).
                if not runtime.queue.exists(job_id) and not runtime.queue.redis.exists(heartbeat_key(job_id)):
                    lost.append(job_id)
            except Exception:  # Redis down: try again next pass
                return counts
        if lost and runtime.queue.push_many(lost):
            session.execute(update(Job).where(Job.id.in_(lost)).values(enqueued_at=now))
            counts["lost"] = len(lost)
    if any(counts.values()):
        log.warning("reconciler recovered work", extra=counts)
    return counts


class Scheduler:
    """Runs `enqueue_due`, `reconcile` and periodic tasks in a background thread."""

    def __init__(self, runtime: Runtime, tick: float = 1.0, tasks: tuple[Periodic, ...] = ()) -> None:
        self.runtime = runtime
        self.tick = tick
        self.tasks = tasks
        self._last_runs: dict[str, float] = {}
        self._suspects: set[int] = set()
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
            if held is not None and (held.decode() if isinstance(held, bytes) else held) == token:
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
            reconcile(self.runtime, self._suspects)
        for task in self.tasks:
            last = self._last_runs.get(task.name)
            if last is None or now - last >= task.interval:
                self._last_runs[task.name] = now
                try:
                    task.fn(self.runtime)
                except Exception as exc:
                    if is_storage_outage(exc):
                        raise  # the loop reports the outage once per interval
                    log.exception("periodic task failed", extra={"task": task.name})

    def _loop(self) -> None:
        outage = OutageReport("database")
        while not self._stop.is_set():
            try:
                if self._have_lock():
                    self.run_once()
                outage.recovered()
            except Exception as exc:
                if is_storage_outage(exc):
                    outage.failed(exc)  # one line per interval, not a traceback per tick
                else:
                    log.exception("scheduler pass failed")
            self._stop.wait(self.tick)
