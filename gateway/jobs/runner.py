"""The rq entrypoint: claim an outbox row, run its handler, record the outcome.

Claiming is a conditional UPDATE (pending -> running), so when rq delivers the
same id twice (a re-enqueue after a Redis restart, two schedulers racing) only
one worker runs it.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update

from gateway.jobs.registry import AGAIN, HANDLERS, GiveUp, Handler, Result, RetryLater
from gateway.logging_setup import request_context
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


# How long the dispatcher of local sends waits for more free threads once one is free.
GATHER_SECONDS = 0.002


class ConcurrentJobs:
    """A bounded pool of threads for job kinds that mostly wait on the network (sends).

    A send holds its worker for the provider's whole answer time (200 ms and more), so one
    job at a time caps a worker at a few replies per second whatever the CPU does.

    A send is claimed only once a thread is free to call the provider at once: every task of
    the pool holds one of ``threads`` slots, reserved *before* the claim (`reserve`). A claimed
    send never waits in a queue for a thread, so a worker killed at any moment leaves as few
    claimed-but-not-called sends as the design allows (see gateway/tasks/send.py for how those
    are recovered). rq still delivers jobs one at a time: `run_job` reserves a slot before it
    claims a job of these kinds (rq's loop waits there while every thread is busy: no more
    jobs are taken than can run) and hands the handler to the pool. The sends this process
    records itself (`run_local`) wait, unclaimed, for the dispatcher thread, which claims as
    many of them as there are free slots. A job's row stays ``running`` (with its heartbeat)
    until its handler has finished, so a SIGKILL mid-send is recovered as before.
    """

    def __init__(self, kinds: frozenset[str], threads: int) -> None:
        self.kinds = kinds
        self.threads = threads
        self._slots = threading.BoundedSemaphore(threads)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="lapor-job")
        self._outstanding = 0
        self._idle = threading.Condition()
        self._batches: queue.SimpleQueue[tuple[Runtime, list[int]] | None] = queue.SimpleQueue()
        self._dispatcher: threading.Thread | None = None
        self._dispatcher_lock = threading.Lock()
        self._stopping = False

    def _count(self, delta: int) -> None:
        with self._idle:
            self._outstanding += delta
            if not self._outstanding:
                self._idle.notify_all()

    def reserve(self, wanted: int = 1, gather: float = 0.0) -> int:
        """Reserve slots for up to ``wanted`` tasks: waits for the first, then takes the others that
        are free or become free within ``gather`` seconds. Returns how many (at least one)."""
        self._slots.acquire()
        got = 1
        deadline = time.monotonic() + gather
        while got < wanted:
            left = deadline - time.monotonic()
            taken = self._slots.acquire(timeout=left) if left > 0 else self._slots.acquire(blocking=False)
            if not taken:
                break
            got += 1
        return got

    def unreserve(self, count: int = 1) -> None:
        for _ in range(count):
            self._slots.release()

    def run_reserved(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on a thread of the pool, in a slot reserved before (freed when it
        ends); `drain` and `shutdown` wait for it."""
        self._count(1)
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._count(-1)
            self._slots.release()
            raise

        def done(_f: Future[None]) -> None:
            self._slots.release()
            self._count(-1)

        future.add_done_callback(done)

    def submit(self, fn: Callable[[], None], *, reserved: bool = False) -> None:
        """Run ``fn`` on the pool; waits for a free slot unless one was reserved for it."""
        if not reserved:
            self.reserve()
        self.run_reserved(fn)

    def run_local(self, runtime: Runtime, job_ids: list[int]) -> None:
        """Run jobs this process recorded itself (see `gateway.jobs.outbox.set_local_dispatch`)."""
        # Queued jobs get the heartbeat of running ones, so the reconciler does not take them
        # for lost while they wait here for a thread, yet recovers them if this process dies.
        with _RUNNING_LOCK:
            _RUNNING.update(job_ids)
        _ensure_heartbeat()
        self._count(1)
        self._batches.put((runtime, list(job_ids)))
        with self._dispatcher_lock:
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(
                    target=self._dispatch_loop, name="lapor-send-dispatch", daemon=True
                )
                self._dispatcher.start()

    def _dispatch_loop(self) -> None:
        """Claim the locally recorded jobs as threads become free, as many at a time as are free."""
        from gateway.jobs.local_batch import run_batch

        while True:
            item = self._batches.get()
            if item is None:
                return
            runtime, job_ids = item
            try:
                while job_ids and not self._stopping:
                    # Sends end in groups (their results are committed together), so a moment's
                    # wait gathers the threads a group frees into one claim, not one claim each.
                    free = self.reserve(len(job_ids), gather=GATHER_SECONDS)
                    if self._stopping:
                        self.unreserve(free)
                        break
                    taken, job_ids = job_ids[:free], job_ids[free:]
                    try:
                        run_batch(runtime, taken, self)
                    except Exception:  # its jobs stay pending or running: the reconciler sees them
                        log.exception("local sends not started", extra={"jobs": len(taken)})
            finally:
                if job_ids:  # dropped at shutdown: pending rows the reconciler pushes to Redis
                    release_claims(job_ids)
                self._count(-1)

    def drain(self) -> None:
        """Wait until no handed-off job is queued or running (a burst worker does before it exits)."""
        with self._idle:
            self._idle.wait_for(lambda: self._outstanding == 0)

    def shutdown(self) -> None:
        """Wait for the jobs in flight: a warm shutdown (SIGTERM) lets each finish and record its end.

        Local jobs not claimed yet are dropped here; their rows stay pending and the
        reconciler pushes them to another worker.
        """
        self._stopping = True
        self._batches.put(None)
        self._executor.shutdown(wait=True, cancel_futures=True)
        dispatcher = self._dispatcher
        if dispatcher is not None:
            dispatcher.join(timeout=5)


def run_local_job(runtime: Runtime, job_id: int) -> None:
    """One job this process recorded, on the one-job path (claim, run, record)."""
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
    """Run one outbox job. Returns a word for rq's log; never raises.

    Job failures, retries (RetryLater) and give-ups (GiveUp) end in the outbox row. A database
    error around the job (its claim, the write of its outcome) is not the job failing either:
    the row is still pending, or running with a heartbeat that stops, and the reconciler pushes
    it again. Raised to rq, it put the job in rq's failed registry with an ERROR traceback
    although the outbox then ran it to the end; `rq info` must list real failures only.
    """
    runtime = get_runtime()
    _import_handlers()
    try:
        return run_job(runtime, job_id)
    except Exception as exc:
        log.warning(
            "job not run: the database failed around it; the reconciler pushes it again",
            extra={"job_id": job_id, "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
        return "deferred"


_LOOK = select(Job.kind, Job.status, Job.payload).where(Job.id == bindparam("id"))


def claim_values(now: datetime) -> dict[str, Any]:
    """What a claim writes: running since ``now``, one more attempt."""
    return {"status": "running", "started_at": now, "attempts": Job.attempts + 1}


def due_by(now: datetime) -> Any:
    """A job the claim may take: pending and due (a second's slack for clocks and rounding)."""
    return (Job.status == "pending") & (Job.run_at <= now + timedelta(seconds=1))


def _claim_statement(job_id: int, now: datetime) -> Any:
    # One statement claims the row and reads what the job needs (RETURNING: SQLite 3.35+, PostgreSQL).
    return (
        update(Job)
        .where(Job.id == job_id, due_by(now))
        .values(**claim_values(now))
        .returning(Job.id, Job.payload, Job.attempts, Job.max_attempts)
    )


def _claim_more_statement(kind: str, job_id: int, now: datetime, limit: int) -> Any:
    """Due jobs of ``kind`` besides ``job_id``, oldest first; rows another worker is claiming
    right now are skipped on PostgreSQL (SKIP LOCKED), and the status is checked again on the
    row itself, so a job is never claimed twice."""
    due = (
        select(Job.id)
        .where(Job.kind == kind, due_by(now), Job.id != job_id)
        .order_by(Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()), Job.status == "pending")
        .values(**claim_values(now))
        .returning(Job.id, Job.payload, Job.attempts, Job.max_attempts)
    )


@dataclass
class _Claimed:
    """A claimed job on its way through the handler's steps."""

    job_id: int
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    seen: Any = None
    state: Any = None
    outcome: Any = None


def run_job(runtime: Runtime, job_id: int, hand_off: bool = True) -> str:
    """Read, claim, act on and end job ``job_id`` (see `gateway.jobs.registry`); for a kind with
    a ``batch`` above one, other due jobs of it go through the same steps with it.

    Heartbeats: the claimed ids join `_RUNNING`, which the heartbeat thread refreshes every
    second; the reconciler only suspects a running row older than its grace period (15 s),
    so no heartbeat needs writing per job here.
    """
    read_error: BaseException | None = None
    seen: Any = None
    # The first look, without the write lock: a job already taken costs no write transaction,
    # and a kind claimed one job at a time reads and decides here, leaving only conditional
    # writes for the claim.
    with runtime.db.session(write=False) as session:
        row = session.execute(_LOOK, {"id": job_id}).first()
        if row is None or row[1] != "pending":
            return "skipped"
        kind = str(row[0])
        handler = HANDLERS.get(kind)
        if handler is None:
            read_error = GiveUp(f"no handler for job kind {kind!r}")
        elif handler.batch == 1:
            try:
                [seen] = handler.read(runtime, session, [dict(row[2] or {})])
            except Exception as exc:
                read_error = exc
    slot = _Slot.for_kind(kind if hand_off else "")
    try:
        return _claim_and_run(runtime, job_id, kind, handler, seen, read_error, hand_off, slot)
    finally:
        slot.release()


class _Slot:
    """A thread of the send pool reserved for one job before its claim (see `ConcurrentJobs`):
    handed to the pool with the job, or given back if the job does not go there."""

    def __init__(self, pool: ConcurrentJobs | None) -> None:
        self.pool = pool
        if pool is not None:
            pool.reserve()

    @classmethod
    def for_kind(cls, kind: str) -> _Slot:
        pool = _CONCURRENT
        return cls(pool if pool is not None and kind in pool.kinds else None)

    def hand_over(self) -> bool:
        """True (once) if a slot is held: the pool's task takes it over."""
        held, self.pool = self.pool is not None, None
        return held

    def release(self) -> None:
        if self.pool is not None:
            self.pool.unreserve()
            self.pool = None


def _claim_and_run(
    runtime: Runtime,
    job_id: int,
    kind: str,
    handler: Handler | None,
    seen: Any,
    error: BaseException | None,
    hand_off: bool,
    slot: _Slot,
) -> str:
    """Claim the job (for a batched kind, with up to ``batch - 1`` more due jobs of it) and
    ``begin`` them; then ``start``, ``act`` and ``end`` here or on a send thread.

    A kind claimed one job at a time was read before the claim, and its ``begin`` runs in the
    claim's transaction (in a savepoint: when it fails, the claim stays and the failure is
    recorded against this attempt like any other). A batched kind is claimed first, so that two
    workers draining one backlog never read the same jobs, and read after the claim."""
    now = utcnow()
    with runtime.db.session() as session:
        first = session.execute(_claim_statement(job_id, now)).first()
        if first is None:
            return "skipped"
        rows = [first]
        if handler is not None and handler.batch > 1:
            rows += session.execute(_claim_more_statement(kind, job_id, now, handler.batch - 1)).all()
        batch = [_Claimed(int(r[0]), dict(r[1] or {}), int(r[2]), int(r[3]), seen=seen) for r in rows]
        if handler is not None and handler.batch == 1 and error is None:
            error = _begin(runtime, session, handler, batch)
    if len(batch) > 1 and runtime.queue is not None:
        runtime.queue.forget_many([c.job_id for c in batch[1:]])  # claimed here: rq need not deliver them
    if handler is not None and handler.batch > 1 and error is None:
        error = _read_and_begin(runtime, handler, batch)
    if error is None:
        batch = [c for c in batch if c.state is not None]
    if not batch:
        return "done"
    ids = [c.job_id for c in batch]
    with _RUNNING_LOCK:
        _RUNNING.update(ids)
    _ensure_heartbeat()

    def run() -> str:
        try:
            return _act_and_end(runtime, kind, handler, batch, error)
        finally:
            release_claims(ids)

    return _run_here_or_on_a_send_thread(job_id, kind, run, hand_off and error is None, slot)


def _begin(runtime: Runtime, session: Any, handler: Handler, batch: list[_Claimed]) -> BaseException | None:
    """The handler's ``begin`` for the claimed jobs, in a savepoint of ``session``; the jobs with
    nothing left to do are done in it. Returns the error that undid it, if any."""
    try:
        with session.begin_nested():
            states = handler.begin(runtime, session, [(c.payload, c.seen) for c in batch])
            if len(states) != len(batch):
                raise ValueError(f"begin answered {len(states)} results for {len(batch)} jobs")
            nothing = [c.job_id for c, state in zip(batch, states, strict=True) if state is None]
            if nothing:
                session.execute(finish_statement(nothing, "done", None))
    except Exception as exc:
        return exc
    for c, state in zip(batch, states, strict=True):
        c.state = state
    return None


def _read_and_begin(runtime: Runtime, handler: Handler, batch: list[_Claimed]) -> BaseException | None:
    """A batched kind's ``read`` after its claim (read-only), then its ``begin``, in a write
    transaction of its own only if the kind has a ``begin`` of its own (the default writes
    nothing)."""
    try:
        with runtime.db.session(write=False) as session:
            seen = handler.read(runtime, session, [c.payload for c in batch])
            if len(seen) != len(batch):
                raise ValueError(f"read answered {len(seen)} results for {len(batch)} jobs")
            for c, looked in zip(batch, seen, strict=True):
                c.seen = looked
            if type(handler).begin is Handler.begin:  # the default writes nothing: no write transaction
                states = handler.begin(runtime, session, [(c.payload, c.seen) for c in batch])
                for c, state in zip(batch, states, strict=True):
                    c.state = state
                return None
    except Exception as exc:
        return exc
    with runtime.db.session() as session:
        return _begin(runtime, session, handler, batch)


def _act_and_end(
    runtime: Runtime, kind: str, handler: Handler | None, batch: list[_Claimed], error: BaseException | None
) -> str:
    """``start`` the batch, ``act`` on each job, ``end`` those that acted; each job's failure is
    recorded against it alone. Returns a word for rq's log."""
    outcomes: dict[int, str] = {}
    if handler is not None and error is None:
        try:
            handler.start(runtime, [c.state for c in batch])
        except Exception as exc:
            error = exc
    if handler is None or error is not None:
        for c in batch:
            with request_context(_request_id(c.payload)):
                outcomes[c.job_id] = _record_failure(
                    runtime, c.job_id, kind, error or RuntimeError("no handler"), c.attempts, c.max_attempts
                )
        return _summary(batch, outcomes)
    acted: list[_Claimed] = []
    for c in batch:
        with request_context(_request_id(c.payload)):
            try:
                c.outcome = handler.act(runtime, c.state)
            except Exception as exc:  # RetryLater and GiveUp included
                outcomes[c.job_id] = _record_failure(runtime, c.job_id, kind, exc, c.attempts, c.max_attempts)
            else:
                acted.append(c)
    outcomes.update(end_jobs(runtime, kind, handler, acted))
    return _summary(batch, outcomes)


def _summary(batch: list[_Claimed], outcomes: dict[int, str]) -> str:
    if len(batch) == 1:
        return outcomes[batch[0].job_id]
    return f"batch of {len(batch)}: " + ", ".join(outcomes[c.job_id] for c in batch)


def end_jobs(runtime: Runtime, kind: str, handler: Handler, acted: list[_Claimed]) -> dict[int, str]:
    """The handler's ``end`` for jobs that acted, and each job's end in the same transaction:
    done, again later (a `RetryLater` result), or, after the commit, a failed attempt (an
    exception result). Jobs ``end`` answers `AGAIN` for go on in the next transaction. If the
    transaction cannot commit at all, each job is ended on its own, so one bad job costs the
    others nothing."""
    outcomes: dict[int, str] = {}
    waiting = list(acted)
    while waiting:
        failed: list[tuple[_Claimed, BaseException]] = []
        again: list[_Claimed] = []
        retries = 0
        try:
            with runtime.db.session() as session:
                with request_context(_request_id(waiting[0].payload) if len(waiting) == 1 else None):
                    results = handler.end(runtime, session, [(c.state, c.outcome) for c in waiting])
                _settle(session, waiting, results, outcomes, failed, again)
                retries = sum(1 for r in results if isinstance(r, RetryLater))
        except Exception as exc:
            if len(waiting) == 1:
                c = waiting[0]
                with request_context(_request_id(c.payload)):
                    outcomes[c.job_id] = _record_failure(
                        runtime, c.job_id, kind, exc, c.attempts, c.max_attempts
                    )
                return outcomes
            log.warning("batch not ended together; ending its jobs one by one", exc_info=True)
            for c in waiting:
                outcomes.update(end_jobs(runtime, kind, handler, [c]))
            return outcomes
        for _ in range(retries):
            _count_retry(kind)
        for c, error in failed:
            with request_context(_request_id(c.payload)):
                outcomes[c.job_id] = _record_failure(
                    runtime, c.job_id, kind, error, c.attempts, c.max_attempts
                )
        waiting = again
    return outcomes


def _settle(
    session: Any,
    jobs: list[_Claimed],
    results: list[Result],
    outcomes: dict[int, str],
    failed: list[tuple[_Claimed, BaseException]],
    again: list[_Claimed],
) -> None:
    """Write each job's end as its ``end`` result says, in the transaction of its work."""
    if len(results) != len(jobs):
        raise ValueError(f"end answered {len(results)} results for {len(jobs)} jobs")
    done: list[int] = []
    for c, result in zip(jobs, results, strict=True):
        if result is None:
            done.append(c.job_id)
            outcomes[c.job_id] = "done"
        elif isinstance(result, RetryLater):
            session.execute(
                _reschedule_statement(c.job_id, result.delay, result.reason, refund=not result.counts)
            )
            outcomes[c.job_id] = "retry"
        elif result is AGAIN:
            again.append(c)
        else:
            assert isinstance(result, BaseException)
            failed.append((c, result))
    if len(again) == len(jobs):
        raise RuntimeError("end answered AGAIN for every job: it must end at least one")
    if done:
        session.execute(finish_statement(done, "done", None))


def _run_here_or_on_a_send_thread(
    job_id: int, kind: str, run: Callable[[], str], hand_off: bool, slot: _Slot | None = None
) -> str:
    """Run a claimed job now, or on the pool when it is a kind the pool takes (in the ``slot``
    reserved before its claim); either way its heartbeat stops when it ends."""
    pool = _CONCURRENT
    if hand_off and pool is not None and kind in pool.kinds:

        def run_in_pool() -> None:
            try:
                run()
            except Exception:  # the database failed while recording the outcome
                log.exception("job outcome not recorded", extra={"job_id": job_id, "kind": kind})
            finally:
                release_claim(job_id)

        try:
            pool.submit(run_in_pool, reserved=slot is not None and slot.hand_over())
        except BaseException:
            release_claim(job_id)
            raise
        return "handed to a send thread"
    try:
        return run()
    finally:
        release_claim(job_id)


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
        return _record_failure(runtime, job_id, kind, exc, attempts, max_attempts)
    if not finished:
        with runtime.db.session() as session:
            session.execute(finish_statement(job_id, "done", None))
    return "done"


def _record_failure(
    runtime: Runtime, job_id: int, kind: str, exc: BaseException, attempts: int, max_attempts: int
) -> str:
    if isinstance(exc, RetryLater):
        _count_retry(kind)
        _reschedule(runtime, job_id, exc.delay, exc.reason, refund=not exc.counts)
        return "retry"
    if isinstance(exc, GiveUp):
        _fail(runtime, job_id, kind, str(exc))
        return "failed"
    assert isinstance(exc, Exception)
    return _failed_attempt(runtime, job_id, kind, exc, attempts, max_attempts)


def _failed_attempt(
    runtime: Runtime, job_id: int, kind: str, exc: Exception, attempts: int, max_attempts: int
) -> str:
    log.error("job failed", exc_info=exc, extra={"job_id": job_id, "kind": kind})
    reason = f"{type(exc).__name__}: {exc}"
    if attempts >= max_attempts:
        trace = "".join(traceback.format_exception(exc, limit=5))
        _fail(runtime, job_id, kind, reason + "\n" + trace)
        return "failed"
    _count_retry(kind)
    _reschedule(runtime, job_id, backoff_delay(attempts), reason)
    return "retry"


def release_claim(job_id: int) -> None:
    """Stop the heartbeat of a job that ended (or could not start). Its key expires by itself;
    the reconciler only looks for heartbeats of rows still running."""
    with _RUNNING_LOCK:
        _RUNNING.discard(job_id)


def release_claims(job_ids: list[int]) -> None:
    with _RUNNING_LOCK:
        _RUNNING.difference_update(job_ids)


def _request_id(payload: dict[str, object]) -> str | None:
    """The request id a job's payload carries (the webhook it came from), for its log lines."""
    value = payload.get("request_id")
    return str(value) if value else None


def _count_retry(kind: str) -> None:
    from gateway.metrics import record_job_retry

    record_job_retry(kind)


def _fail(runtime: Runtime, job_id: int, kind: str, error: str) -> None:
    from gateway.metrics import record_job_failure

    record_job_failure(kind)
    with runtime.db.session() as session:
        session.execute(finish_statement(job_id, "failed", error))


def finish_statement(job_id: int | list[int], status: str, error: str | None) -> Any:
    """End one job, or several (a list of ids), with ``status``."""
    which = Job.id.in_(job_id) if isinstance(job_id, list) else Job.id == job_id
    return (
        update(Job)
        .where(which)
        .values(status=status, finished_at=utcnow(), last_error=error)
        .execution_options(synchronize_session=False)
    )


def _reschedule_statement(job_id: int, delay: float, reason: str, *, refund: bool = False) -> Any:
    values: dict[str, object] = {
        "status": "pending",
        "run_at": utcnow() + timedelta(seconds=max(0.0, delay)),
        "last_error": reason,
        "enqueued_at": None,
    }
    if refund:
        values["attempts"] = Job.attempts - 1
    return update(Job).where(Job.id == job_id).values(**values)


def _reschedule(runtime: Runtime, job_id: int, delay: float, reason: str, *, refund: bool = False) -> None:
    with runtime.db.session() as session:
        session.execute(_reschedule_statement(job_id, delay, reason, refund=refund))
