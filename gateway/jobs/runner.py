"""The rq entrypoint: claim an outbox row, run its handler, record the outcome.

Claiming is a conditional UPDATE (pending -> running), so when rq delivers the
same id twice (a re-enqueue after a Redis restart, two schedulers racing) only
one worker runs it.
"""

from __future__ import annotations

import logging
import random
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from gateway.jobs.registry import HANDLERS, GiveUp, RetryLater
from gateway.models import Job, utcnow

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

_RUNTIME: Runtime | None = None

# Backoff for failed attempts, in seconds: base * 2**attempt, capped, with jitter.
BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0

# While a job runs, its worker refreshes a Redis key every HEARTBEAT_INTERVAL seconds that
# lives HEARTBEAT_TTL seconds. A "running" row without that key belongs to a dead worker
# (SIGKILL, OOM, lost machine), so the reconciler can recover it in well under two minutes
# instead of waiting for `job_stuck_after`.
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_TTL = 10.0
_RUNNING: set[int] = set()
_RUNNING_LOCK = threading.Lock()
_HEARTBEAT: threading.Thread | None = None


def heartbeat_key(job_id: int) -> str:
    return f"lapor:job-alive:{job_id}"


def _beat(runtime: Runtime, ids: list[int]) -> None:
    queue = runtime.queue
    if queue is None or not ids:
        return
    try:
        with queue.redis.pipeline() as pipe:
            for job_id in ids:
                pipe.set(heartbeat_key(job_id), "1", px=int(HEARTBEAT_TTL * 1000))
            pipe.execute()
    except Exception:  # Redis down: the reconciler falls back to job_stuck_after
        log.debug("heartbeat not written", exc_info=True)


def _heartbeat_loop() -> None:
    while True:
        runtime = _RUNTIME
        with _RUNNING_LOCK:
            ids = list(_RUNNING)
        if runtime is not None:
            _beat(runtime, ids)
        threading.Event().wait(HEARTBEAT_INTERVAL)


def _ensure_heartbeat() -> None:
    global _HEARTBEAT
    if _HEARTBEAT is None or not _HEARTBEAT.is_alive():
        _HEARTBEAT = threading.Thread(target=_heartbeat_loop, name="lapor-heartbeat", daemon=True)
        _HEARTBEAT.start()


class ConcurrentJobs:
    """A bounded pool of threads for job kinds that mostly wait on the network (sends).

    A send holds its worker for the provider's whole answer time (200 ms and more), so one
    job at a time caps a worker at a few replies per second whatever the CPU does. rq still
    delivers jobs one at a time; `run_job` claims the row as usual and hands the handler to
    this pool, and the job's row stays ``running`` (with its heartbeat) until the handler has
    finished there, so a SIGKILL mid-send is recovered exactly as before. When every thread
    is busy, `submit` blocks rq's loop: no more jobs are taken than can run.
    """

    def __init__(self, kinds: frozenset[str], threads: int) -> None:
        self.kinds = kinds
        self.threads = threads
        self._slots = threading.BoundedSemaphore(threads)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="lapor-job")
        self._outstanding = 0
        self._idle = threading.Condition()

    def _track(self, future: Future[None]) -> None:
        with self._idle:
            self._outstanding += 1

        def done(_f: Future[None]) -> None:
            with self._idle:
                self._outstanding -= 1
                self._idle.notify_all()

        future.add_done_callback(done)

    def run_local(self, runtime: Runtime, job_ids: list[int]) -> None:
        """Run jobs this process recorded itself (see `gateway.jobs.outbox.set_local_dispatch`)."""
        # Queued jobs get the heartbeat of running ones, so the reconciler does not take them
        # for lost while they wait here for a thread, yet recovers them if this process dies.
        with _RUNNING_LOCK:
            _RUNNING.update(job_ids)
        _ensure_heartbeat()
        for job_id in job_ids:
            self._track(self._executor.submit(_run_local, runtime, job_id))

    def submit(self, fn: Callable[[], None]) -> None:
        self._slots.acquire()
        try:
            future = self._executor.submit(fn)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        self._track(future)

    def drain(self) -> None:
        """Wait until no handed-off job is queued or running (a burst worker does before it exits)."""
        with self._idle:
            self._idle.wait_for(lambda: self._outstanding == 0)

    def shutdown(self) -> None:
        """Wait for the jobs in flight: a warm shutdown (SIGTERM) lets each finish and record its end.

        Jobs still waiting for a thread are dropped here; their rows stay pending and the
        reconciler pushes them to another worker.
        """
        self._executor.shutdown(wait=True, cancel_futures=True)


def _run_local(runtime: Runtime, job_id: int) -> None:
    try:
        run_job(runtime, job_id, hand_off=False)
    except Exception:  # the database failed: the row is still pending or running, the reconciler sees it
        log.exception("local job failed to run", extra={"job_id": job_id})
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(job_id)  # also when the claim found it taken (run elsewhere)


_CONCURRENT: ConcurrentJobs | None = None


def set_concurrent(pool: ConcurrentJobs | None) -> None:
    """The worker sets this when started with more than one send thread."""
    global _CONCURRENT
    _CONCURRENT = pool


def set_runtime(runtime: Runtime | None) -> None:
    """The worker sets its runtime once at start; tests set theirs."""
    global _RUNTIME
    _RUNTIME = runtime


def get_runtime() -> Runtime:
    global _RUNTIME
    if _RUNTIME is None:
        from gateway.runtime import Runtime

        _RUNTIME = Runtime()
        _import_handlers()
    return _RUNTIME


def _import_handlers() -> None:
    """Import the modules whose @handler decorators fill the registry."""
    import gateway.tasks  # noqa: F401


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with full jitter, so retries of many jobs do not stampede."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


def execute(job_id: int) -> str:
    """Run one outbox job. Returns a word for rq's log; never raises for job failures."""
    runtime = get_runtime()
    _import_handlers()
    return run_job(runtime, job_id)


def run_job(runtime: Runtime, job_id: int, hand_off: bool = True) -> str:
    db = runtime.db
    now = utcnow()
    with db.session() as session:
        # One statement claims the row and reads what the job needs (RETURNING: SQLite 3.35+, PostgreSQL).
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "pending", Job.run_at <= now + timedelta(seconds=1))
            .values(status="running", started_at=now, attempts=Job.attempts + 1)
            .returning(Job.kind, Job.payload, Job.attempts, Job.max_attempts)
        ).first()
        if claimed is None:
            return "skipped"
        kind, payload, attempts, max_attempts = claimed[0], dict(claimed[1] or {}), claimed[2], claimed[3]
    with _RUNNING_LOCK:
        _RUNNING.add(job_id)
    _beat(runtime, [job_id])
    _ensure_heartbeat()
    pool = _CONCURRENT
    if hand_off and pool is not None and kind in pool.kinds:

        def run_in_pool() -> None:
            try:
                _run_claimed(runtime, job_id, kind, payload, attempts, max_attempts)
            except Exception:  # the database failed while recording the outcome
                log.exception("job outcome not recorded", extra={"job_id": job_id, "kind": kind})
            finally:
                _release_claim(runtime, job_id)

        try:
            pool.submit(run_in_pool)
        except BaseException:
            _release_claim(runtime, job_id)
            raise
        return "handed to a send thread"
    try:
        return _run_claimed(runtime, job_id, kind, payload, attempts, max_attempts)
    finally:
        _release_claim(runtime, job_id)


def _release_claim(runtime: Runtime, job_id: int) -> None:
    """Stop the heartbeat of a job that ended (or could not start)."""
    with _RUNNING_LOCK:
        _RUNNING.discard(job_id)
    if runtime.queue is not None:
        try:
            runtime.queue.redis.delete(heartbeat_key(job_id))
        except Exception:
            log.debug("heartbeat not removed", exc_info=True)


def _run_claimed(
    runtime: Runtime, job_id: int, kind: str, payload: dict[str, object], attempts: int, max_attempts: int
) -> str:
    fn = HANDLERS.get(kind)
    if fn is None:
        _finish(runtime, job_id, "failed", f"no handler for job kind {kind!r}")
        return "failed"
    try:
        fn(runtime, payload)
    except RetryLater as retry:
        _count_retry(kind)
        _reschedule(runtime, job_id, retry.delay, retry.reason, refund=not retry.counts)
        return "retry"
    except GiveUp as exc:
        _finish(runtime, job_id, "failed", str(exc))
        return "failed"
    except Exception as exc:
        log.exception("job failed", extra={"job_id": job_id, "kind": kind})
        reason = f"{type(exc).__name__}: {exc}"
        if attempts >= max_attempts:
            _finish(runtime, job_id, "failed", reason + "\n" + traceback.format_exc(limit=5))
            return "failed"
        _count_retry(kind)
        _reschedule(runtime, job_id, backoff_delay(attempts), reason)
        return "retry"
    _finish(runtime, job_id, "done", None)
    return "done"


def _count_retry(kind: str) -> None:
    from gateway.metrics import record_job_retry

    record_job_retry(kind)


def _finish(runtime: Runtime, job_id: int, status: str, error: str | None) -> None:
    if status == "failed":
        from gateway.metrics import record_job_failure

        with runtime.db.session(write=False) as session:
            kind = session.scalar(select(Job.kind).where(Job.id == job_id)) or "unknown"
        record_job_failure(kind)
    with runtime.db.session() as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(status=status, finished_at=utcnow(), last_error=error)
        )


def _reschedule(runtime: Runtime, job_id: int, delay: float, reason: str, *, refund: bool = False) -> None:
    values: dict[str, object] = {
        "status": "pending",
        "run_at": utcnow() + timedelta(seconds=max(0.0, delay)),
        "last_error": reason,
        "enqueued_at": None,
    }
    if refund:
        values["attempts"] = Job.attempts - 1
    with runtime.db.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))
