"""One attempt of a job: how it is claimed, how its outcome is written, and its heartbeat.

Both ways a worker runs jobs use these: one job at a time (`gateway.work.runner`) and a
batch of sends claimed together (`gateway.work.local_batch`). They live here, below both,
so that neither of those modules imports the other's internals (no import cycle).
"""

from __future__ import annotations

import logging
import random
import threading
import traceback
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from gateway.store.models import Job, utcnow
from gateway.work.registry import GiveUp, RetryLater

if TYPE_CHECKING:
    from gateway.runtime import Runtime
    from gateway.work.queue import JobQueue

log = logging.getLogger(__name__)

# Backoff for failed attempts, in seconds: base * 2**attempt, capped, with jitter.
BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0

# While a job runs, its worker refreshes a Redis key every HEARTBEAT_INTERVAL seconds that
# lives HEARTBEAT_TTL seconds. A "running" row without that key belongs to a dead worker
# (SIGKILL, OOM, lost machine), so the reconciler can recover it in well under two minutes
# instead of waiting for `job_stuck_after`.
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_TTL = 10.0


def heartbeat_key(job_id: int) -> str:
    return f"lapor:job-alive:{job_id}"


class Heartbeats:
    """The jobs one worker holds, and the thread that keeps their heartbeat keys alive.

    One per worker (`gateway.work.runner.JobRunner`), not per module: two workers in one
    process (tests, the benchmark) each beat for their own jobs and their own Redis.
    """

    def __init__(self, queue: JobQueue | None) -> None:
        self._queue = queue
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def hold(self, job_ids: Iterable[int]) -> None:
        """Beat for these jobs from now on (claimed, or waiting in this process for a thread)."""
        with self._lock:
            self._ids.update(job_ids)
            if self._queue is not None and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._loop, name="lapor-heartbeat", daemon=True)
                self._thread.start()

    def release(self, job_ids: Iterable[int]) -> None:
        """Stop beating for jobs that ended (or could not start). Their keys expire by themselves;
        the reconciler only looks for heartbeats of rows still running."""
        with self._lock:
            self._ids.difference_update(job_ids)

    def held(self) -> set[int]:
        with self._lock:
            return set(self._ids)

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        """Beat every second while jobs are held; the thread ends when none is (`hold` starts
        another), so a runner that is never closed leaves no thread behind."""
        while not self._stop.is_set():
            self.beat()
            self._stop.wait(HEARTBEAT_INTERVAL)
            with self._lock:
                if not self._ids:
                    self._thread = None
                    return

    def beat(self) -> None:
        queue = self._queue
        ids = self.held()
        if queue is None or not ids:
            return
        try:
            with queue.redis.pipeline() as pipe:
                for job_id in ids:
                    pipe.set(heartbeat_key(job_id), "1", px=int(HEARTBEAT_TTL * 1000))
                pipe.execute()
        except Exception:  # Redis down: the reconciler falls back to job_stuck_after
            log.debug("heartbeat not written", exc_info=True)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with full jitter, so retries of many jobs do not stampede."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


def claim_values(now: datetime) -> dict[str, Any]:
    """What a claim writes: running since ``now``, one more attempt."""
    return {"status": "running", "started_at": now, "attempts": Job.attempts + 1}


def due_by(now: datetime) -> Any:
    """A job the claim may take: pending and due (a second's slack for clocks and rounding)."""
    return (Job.status == "pending") & (Job.run_at <= now + timedelta(seconds=1))


def finish_statement(job_id: int | list[int], status: str, error: str | None) -> Any:
    """End one job, or several (a list of ids), with ``status``."""
    which = Job.id.in_(job_id) if isinstance(job_id, list) else Job.id == job_id
    return (
        update(Job)
        .where(which)
        .values(status=status, finished_at=utcnow(), last_error=error)
        .execution_options(synchronize_session=False)
    )


def reschedule_statement(job_id: int, delay: float, reason: str, *, refund: bool = False) -> Any:
    values: dict[str, object] = {
        "status": "pending",
        "run_at": utcnow() + timedelta(seconds=max(0.0, delay)),
        "last_error": reason,
        "enqueued_at": None,
    }
    if refund:
        values["attempts"] = Job.attempts - 1
    return update(Job).where(Job.id == job_id).values(**values)


def request_id_of(payload: dict[str, object]) -> str | None:
    """The request id a job's payload carries (the webhook it came from), for its log lines."""
    value = payload.get("request_id")
    return str(value) if value else None


def guarded(
    runtime: Runtime,
    job_id: int,
    kind: str,
    attempts: int,
    max_attempts: int,
    body: Callable[[], None],
    *,
    finished: bool = False,
) -> str:
    """Run ``body`` and record what became of the job: retry, failed, or (unless ``body``
    recorded it itself: ``finished``) done."""
    try:
        body()
    except Exception as exc:  # RetryLater and GiveUp included
        return record_failure(runtime, job_id, kind, exc, attempts, max_attempts)
    if not finished:
        with runtime.db.session() as session:
            session.execute(finish_statement(job_id, "done", None))
    return "done"


def record_failure(
    runtime: Runtime, job_id: int, kind: str, exc: BaseException, attempts: int, max_attempts: int
) -> str:
    if isinstance(exc, RetryLater):
        count_retry(kind)
        reschedule(runtime, job_id, exc.delay, exc.reason, refund=not exc.counts)
        return "retry"
    if isinstance(exc, GiveUp):
        fail(runtime, job_id, kind, str(exc))
        return "failed"
    assert isinstance(exc, Exception)
    log.error("job failed", exc_info=exc, extra={"job_id": job_id, "kind": kind})
    reason = f"{type(exc).__name__}: {exc}"
    if attempts >= max_attempts:
        trace = "".join(traceback.format_exception(exc, limit=5))
        fail(runtime, job_id, kind, reason + "\n" + trace)
        return "failed"
    count_retry(kind)
    reschedule(runtime, job_id, backoff_delay(attempts), reason)
    return "retry"


def count_retry(kind: str) -> None:
    from gateway.ops.metrics import record_job_retry

    record_job_retry(kind)


def fail(runtime: Runtime, job_id: int, kind: str, error: str) -> None:
    from gateway.ops.metrics import record_job_failure

    record_job_failure(kind)
    with runtime.db.session() as session:
        session.execute(finish_statement(job_id, "failed", error))


def reschedule(runtime: Runtime, job_id: int, delay: float, reason: str, *, refund: bool = False) -> None:
    with runtime.db.session() as session:
        session.execute(reschedule_statement(job_id, delay, reason, refund=refund))
