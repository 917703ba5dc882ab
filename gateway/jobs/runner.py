"""The rq entrypoint: claim an outbox row, run its handler, record the outcome.

Claiming is a conditional UPDATE (pending -> running), so when rq delivers the
same id twice (a re-enqueue after a Redis restart, two schedulers racing) only
one worker runs it.

rq calls `execute(job_id)`; the worker hands its `JobRunner` (runtime, heartbeats, send
threads) in around each job (`serving`), so nothing here is a module-level setting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update

from gateway.jobs import kinds, local_batch
from gateway.jobs.attempts import (
    Heartbeats,
    backoff_delay,
    claim_values,
    count_retry,
    due_by,
    fail,
    finish_statement,
    guarded,
    heartbeat_key,
    record_failure,
    request_id_of,
    reschedule_statement,
)
from gateway.jobs.registry import (
    BATCH_SIZES,
    HANDLERS,
    STAGED,
    TRANSACTIONAL,
    TRANSACTIONAL_MANY,
    TRANSACTIONAL_READ_MANY,
    TRANSACTIONAL_READS,
    ManyFn,
    RetryLater,
    StagedHandler,
)
from gateway.logging_setup import request_context
from gateway.models import Job, utcnow

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

# Imported from here by older callers; they live in `gateway.jobs.attempts`.
__all__ = ["backoff_delay", "claim_values", "due_by", "finish_statement", "guarded", "heartbeat_key"]
# Every kind this runner can run (the import registers their handlers).
KINDS = kinds.KINDS

# Job kinds that run on the send threads: they wait on a provider, not on the CPU.
CONCURRENT_KINDS = frozenset({"send_message"})
# How long a worker that rq handed a send waits for more free send threads once one is free.
GATHER_SECONDS = 0.002


class ConcurrentJobs:
    """A bounded pool of threads for job kinds that mostly wait on the network (sends).

    A send holds its worker for the provider's whole answer time (200 ms and more), so one
    job at a time caps a worker at a few replies per second whatever the CPU does.

    A send is claimed only once a thread is free to call the provider at once: every task of
    the pool holds one of ``threads`` slots, reserved *before* the claim (`reserve`). A claimed
    send never waits in a queue for a thread, so a worker killed at any moment leaves as few
    claimed-but-not-called sends as the design allows (see gateway/tasks/send.py for how those
    are recovered). rq delivers jobs one at a time: when it delivers a send, the worker reserves
    the free slots (rq's loop waits there while every thread is busy: no more jobs are taken
    than can run) and claims that many due sends together (`JobRunner.run_sends`). A job's row
    stays ``running`` (with its heartbeat) until its handler has finished, so a SIGKILL
    mid-send is recovered as before.
    """

    def __init__(self, kinds: frozenset[str], threads: int) -> None:
        self.kinds = kinds
        self.threads = threads
        self.recorder = local_batch.Recorder()
        self._slots = threading.BoundedSemaphore(threads)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="lapor-job")
        self._outstanding = 0
        self._idle = threading.Condition()

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

    def drain(self) -> None:
        """Wait until no handed-off job is running (a burst worker does before it exits)."""
        with self._idle:
            self._idle.wait_for(lambda: self._outstanding == 0)

    def shutdown(self) -> None:
        """Wait for the jobs in flight: a warm shutdown (SIGTERM) lets each finish and record its end."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class JobRunner:
    """What one worker's jobs share: the runtime, the heartbeats of the jobs it holds, and its
    send threads (none with ``send_threads`` 1: every job runs on rq's own thread)."""

    def __init__(self, runtime: Runtime, send_threads: int = 1) -> None:
        self.runtime = runtime
        self.heartbeats = Heartbeats(runtime.queue)
        self.pool = ConcurrentJobs(CONCURRENT_KINDS, send_threads) if send_threads > 1 else None

    def close(self) -> None:
        """Let the sends in flight finish and record their ends, then stop the heartbeats."""
        if self.pool is not None:
            self.pool.shutdown()
        self.heartbeats.stop()

    def run_sends(self, kind: str, job_id: int) -> str:
        """A send rq delivered, with as many other due sends as there are free send threads.

        One rq delivery, one read, one claim and one mark for the batch (`local_batch.run_batch`)
        instead of one each; the rq jobs of the other sends claimed are then taken off the queue,
        so rq does not deliver them again for nothing (a copy that is left is skipped at its
        claim)."""
        pool = self.pool
        assert pool is not None
        free = pool.reserve(pool.threads, gather=GATHER_SECONDS)
        try:
            ids = [job_id]
            if free > 1:
                with self.runtime.db.session(write=False) as session:
                    ids += list(session.scalars(_due_of_kind(kind, job_id, utcnow(), free - 1)))
        except BaseException:
            pool.unreserve(free)
            raise
        pool.unreserve(free - len(ids))
        alone = local_batch.run_batch(self.runtime, ids, pool, self.heartbeats)
        for other in alone:
            pool.run_reserved(self._run_alone, other)
        claimed = [other for other in ids[1:] if other not in alone]
        if claimed and self.runtime.queue is not None:
            self.runtime.queue.forget_many(claimed)
        return f"batch of {len(ids)} sends"

    def _run_alone(self, job_id: int) -> None:
        """A job of the batch that takes the one-job path (claim, run, record) on its send thread."""
        try:
            run_job(self, job_id, hand_off=False)
        except Exception:  # the database failed: the row is still pending or running, the reconciler sees it
            log.exception("job failed to run", extra={"job_id": job_id})


# The worker's `JobRunner` while rq runs a job (see `serving`); unset outside a job.
_SERVING: ContextVar[JobRunner] = ContextVar("lapor_job_runner")


@contextmanager
def serving(jobs: JobRunner) -> Iterator[None]:
    """Hand ``jobs`` to `execute` for what runs inside (the rq worker wraps each job in it)."""
    token = _SERVING.set(jobs)
    try:
        yield
    finally:
        _SERVING.reset(token)


def execute(job_id: int) -> str:
    """Run one outbox job. Returns a word for rq's log; never raises.

    Job failures, retries (RetryLater) and give-ups (GiveUp) end in the outbox row. A database
    error around the job (its claim, the write of its outcome) is not the job failing either:
    the row is still pending, or running with a heartbeat that stops, and the reconciler pushes
    it again. Raised to rq, it put the job in rq's failed registry with an ERROR traceback
    although the outbox then ran it to the end; `rq info` must list real failures only.
    """
    jobs = _SERVING.get(None)
    if jobs is None:  # a plain `rq worker`: it has no runtime to hand in
        raise RuntimeError("lapor jobs run in `lapor-gateway worker` (gateway.worker), not a plain rq worker")
    try:
        return run_job(jobs, job_id)
    except Exception as exc:
        log.warning(
            "job not run: the database failed around it; the reconciler pushes it again",
            extra={"job_id": job_id, "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
        return "deferred"


Claimed = tuple[int, dict[str, object], int, int]  # id, payload, attempts, max_attempts
_LOOK = select(Job.kind, Job.status, Job.payload).where(Job.id == bindparam("id"))


def _claim_statement(job_id: int, now: datetime) -> Any:
    # One statement claims the row and reads what the job needs (RETURNING: SQLite 3.35+, PostgreSQL).
    return (
        update(Job)
        .where(Job.id == job_id, due_by(now))
        .values(**claim_values(now))
        .returning(Job.kind, Job.payload, Job.attempts, Job.max_attempts)
    )


def _due_of_kind(kind: str, job_id: int, now: datetime, limit: int) -> Any:
    """Due jobs of ``kind`` besides ``job_id``, oldest first."""
    return select(Job.id).where(Job.kind == kind, due_by(now), Job.id != job_id).order_by(Job.id).limit(limit)


def _claim_more_statement(kind: str, job_id: int, now: datetime, limit: int) -> Any:
    """Claim due jobs of ``kind`` besides ``job_id``, oldest first; rows another worker is
    claiming right now are skipped on PostgreSQL (SKIP LOCKED), and the status is checked again
    on the row itself, so a job is never claimed twice."""
    due = _due_of_kind(kind, job_id, now, limit).with_for_update(skip_locked=True)
    return (
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()), Job.status == "pending")
        .values(**claim_values(now))
        .returning(Job.id, Job.payload, Job.attempts, Job.max_attempts)
    )


def run_job(jobs: JobRunner, job_id: int, hand_off: bool = True) -> str:
    """Claim job ``job_id`` and run it; for a batched kind, also claim and run other due jobs of it.

    ``hand_off``: a send goes to the send threads with the other due sends (`JobRunner.run_sends`);
    False runs it here (a job of such a batch that took the one-job path).

    Heartbeats: the claimed ids are held by the worker's `Heartbeats`, refreshed every second;
    the reconciler only suspects a running row older than its grace period (15 s), so no
    heartbeat needs writing per job here.
    """
    runtime = jobs.runtime
    begin_error: BaseException | None = None
    seen: Any = None
    # A first look without the write lock: a job already taken costs no write transaction, and a
    # staged handler reads and decides here, leaving only conditional writes for the claim.
    with runtime.db.session(write=False) as session:
        row = session.execute(_LOOK, {"id": job_id}).first()
        if row is None or row[1] != "pending":
            return "skipped"
        kind = str(row[0])
        stage = STAGED.get(kind)
        to_pool = hand_off and jobs.pool is not None and kind in jobs.pool.kinds
        if stage is not None and not to_pool:
            try:
                seen = stage.read(runtime, session, dict(row[2] or {}))
            except Exception as exc:
                begin_error = exc
    if to_pool:
        return jobs.run_sends(kind, job_id)
    return _claim_and_run(jobs, job_id, seen, begin_error)


def _claim_and_run(jobs: JobRunner, job_id: int, seen: Any, begin_error: BaseException | None) -> str:
    runtime = jobs.runtime
    state: Any = None
    now = utcnow()
    with runtime.db.session() as session:
        claimed = session.execute(_claim_statement(job_id, now)).first()
        if claimed is None:
            return "skipped"
        kind = str(claimed[0])
        batch: list[Claimed] = [(job_id, dict(claimed[1] or {}), int(claimed[2]), int(claimed[3]))]
        size = BATCH_SIZES.get(kind, 1)
        if size > 1:
            batch += [
                (int(r[0]), dict(r[1] or {}), int(r[2]), int(r[3]))
                for r in session.execute(_claim_more_statement(kind, job_id, now, size - 1))
            ]
        stage = STAGED.get(kind)
        if stage is not None and begin_error is None:
            state, begin_error = _begin_stage(runtime, session, stage, job_id, batch[0][1], seen)
    ids = [job[0] for job in batch]
    jobs.heartbeats.hold(ids)
    try:
        if stage is not None:
            return _run_staged(runtime, job_id, kind, stage, state, begin_error, batch[0])
        if len(ids) > 1 and runtime.queue is not None:
            runtime.queue.forget_many(ids[1:])
        if kind in TRANSACTIONAL:
            if len(batch) == 1:
                return _run_transactional(runtime, kind, *batch[0])
            outcomes = _run_transactional_batch(runtime, kind, batch)
            return f"batch of {len(outcomes)}: " + ", ".join(outcomes)
        _, payload, attempts, max_attempts = batch[0]
        return _run_claimed(runtime, job_id, kind, payload, attempts, max_attempts)
    finally:
        jobs.heartbeats.release(ids)


_NOTHING_TO_DO = object()


def _begin_stage(
    runtime: Runtime, session: Any, stage: StagedHandler, job_id: int, payload: dict[str, object], seen: Any
) -> tuple[Any, BaseException | None]:
    """A staged handler's first step, in the claim's transaction. A savepoint keeps the claim
    when it fails, so the failure is recorded against this attempt like any other."""
    try:
        with session.begin_nested():
            state = stage.begin(runtime, session, payload, seen)
            if state is None:
                session.execute(finish_statement(job_id, "done", None))
                return _NOTHING_TO_DO, None
            return state, None
    except Exception as exc:
        return None, exc


def _run_staged(
    runtime: Runtime,
    job_id: int,
    kind: str,
    stage: StagedHandler,
    state: Any,
    begin_error: BaseException | None,
    claimed: Claimed,
) -> str:
    _, payload, attempts, max_attempts = claimed
    if begin_error is None and state is _NOTHING_TO_DO:
        return "done"

    def body() -> None:
        if begin_error is not None:
            raise begin_error
        stage.start_many(runtime, [state])
        outcome = stage.act(runtime, state)
        with runtime.db.session() as session:
            stage.end(runtime, session, state, outcome)
            session.execute(finish_statement(job_id, "done", None))

    with request_context(request_id_of(payload)):
        return guarded(runtime, job_id, kind, attempts, max_attempts, body, finished=True)


def _run_transactional(
    runtime: Runtime, kind: str, job_id: int, payload: dict[str, object], attempts: int, max_attempts: int
) -> str:
    """The handler's work and the job's end in one transaction; failures as in `_run_claimed`."""
    fn = TRANSACTIONAL[kind]
    seen = _read_ahead(runtime, kind, [(job_id, payload)]).get(job_id)
    later: RetryLater | None = None

    def body() -> None:
        nonlocal later
        with runtime.db.session() as session:
            later = fn(runtime, session, payload, seen)
            _end_in(session, job_id, later)

    with request_context(request_id_of(payload)):
        outcome = guarded(runtime, job_id, kind, attempts, max_attempts, body, finished=True)
    if outcome == "done" and later is not None:
        count_retry(kind)
        return "retry"
    return outcome


def _read_ahead(runtime: Runtime, kind: str, jobs: list[tuple[int, dict[str, object]]]) -> dict[int, Any]:
    """The kind's read-only look for each job (see `TRANSACTIONAL_READS`), in one read-only
    transaction; empty when the kind has none or the look fails (the handlers then do the
    work themselves, in their transactions)."""
    read = TRANSACTIONAL_READS.get(kind)
    read_many = TRANSACTIONAL_READ_MANY.get(kind)
    if read is None and read_many is None:
        return {}
    try:
        with runtime.db.session(write=False) as session:
            if read_many is not None and (len(jobs) > 1 or read is None):
                seen = read_many(runtime, session, [payload for _job_id, payload in jobs])
                return dict(zip([job_id for job_id, _payload in jobs], seen, strict=True))
            assert read is not None
            return {job_id: read(runtime, session, payload) for job_id, payload in jobs}
    except Exception:
        log.debug("read-only look failed", exc_info=True, extra={"kind": kind})
        return {}


def _end_in(session: Any, job_id: int, later: RetryLater | None) -> None:
    """The job's end, in the transaction of its work: done, or again later when it asked."""
    if later is None:
        session.execute(finish_statement(job_id, "done", None))
    else:
        session.execute(reschedule_statement(job_id, later.delay, later.reason, refund=not later.counts))


# How long one transaction of a batch may run before it commits and the next one starts: on
# SQLite it holds the single write lock, and the webhooks' acks wait behind it.
BATCH_TRANSACTION_SECONDS = 0.01


def _run_transactional_batch(runtime: Runtime, kind: str, batch: list[Claimed]) -> list[str]:
    """Several claimed jobs of a transactional kind in one write transaction, each in a savepoint.

    One commit (and on SQLite one turn of the write lock) for the batch instead of one per job,
    and the sends they record reach the send threads together. A job whose handler fails is
    rolled back to its savepoint alone and recorded after the commit, as `_run_transactional`
    would. If the batch cannot commit at all, each job runs again on its own.
    """
    fn = TRANSACTIONAL[kind]
    seen = _read_ahead(runtime, kind, [(job[0], job[1]) for job in batch])
    outcomes: dict[int, str] = {}
    waiting = list(batch)
    many = TRANSACTIONAL_MANY.get(kind) if seen else None
    while waiting:
        chunk: list[Claimed] = []
        failed: list[tuple[Claimed, BaseException]] = []
        retries = 0
        try:
            with runtime.db.session() as session:
                began = time.monotonic()
                if many is not None:
                    done = _run_many(runtime, session, many, waiting, seen)
                    many = None
                    outcomes.update((job_id, "done") for job_id in done)
                    waiting = [job for job in waiting if job[0] not in done]
                while waiting and (not chunk or time.monotonic() - began < BATCH_TRANSACTION_SECONDS):
                    job = waiting.pop(0)
                    chunk.append(job)
                    job_id, payload = job[0], job[1]
                    try:
                        with session.begin_nested(), request_context(request_id_of(payload)):
                            later = fn(runtime, session, payload, seen.get(job_id))
                            _end_in(session, job_id, later)
                        outcomes[job_id] = "done" if later is None else "retry"
                        retries += later is not None
                    except Exception as exc:  # this job only; the others go on
                        failed.append((job, exc))
        except Exception:
            log.warning("batch not committed; running its jobs one by one", exc_info=True)
            for job in chunk:
                outcomes[job[0]] = _run_transactional(runtime, kind, *job)
            continue
        for _ in range(retries):
            count_retry(kind)
        for (job_id, _payload, attempts, max_attempts), exc in failed:
            outcomes[job_id] = record_failure(runtime, job_id, kind, exc, attempts, max_attempts)
    return [outcomes[job[0]] for job in batch]


def _run_many(
    runtime: Runtime, session: Any, many: ManyFn, jobs: list[Claimed], seen: dict[int, Any]
) -> set[int]:
    """The kind's whole-batch form (see `TRANSACTIONAL_MANY`) in a savepoint, and the ends of the
    jobs it did in one statement; on any error nothing of it stays and every job runs alone."""
    try:
        with session.begin_nested():
            done = many(runtime, session, [(job[0], job[1], seen.get(job[0])) for job in jobs])
            if done:
                session.execute(finish_statement(list(done), "done", None))
    except Exception:
        log.debug("batch form failed; the jobs run one by one", exc_info=True)
        return set()
    return set(done)


def _run_claimed(
    runtime: Runtime, job_id: int, kind: str, payload: dict[str, object], attempts: int, max_attempts: int
) -> str:
    fn = HANDLERS.get(kind)
    if fn is None:
        fail(runtime, job_id, kind, f"no handler for job kind {kind!r}")
        return "failed"
    with request_context(request_id_of(payload)):
        return guarded(runtime, job_id, kind, attempts, max_attempts, lambda: fn(runtime, payload))
