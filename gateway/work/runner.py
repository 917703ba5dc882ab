"""The rq entrypoint: claim outbox rows, run their handlers, record the outcomes.

Claiming is a conditional UPDATE (pending -> running), so when rq delivers the
same id twice (a re-enqueue after a Redis restart, two schedulers racing) only
one worker runs it. Every kind goes through the one handler protocol of
`gateway.work.registry` (read, begin, start, act, end over lists; see docs/jobs.md).

rq calls `execute(job_id)`; the worker hands its `JobRunner` (runtime, the handlers of the
kinds in `gateway.work.kinds`, heartbeats, send threads) in around each job (`serving`), so
nothing here is a module-level setting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update

from gateway.ops.logging_setup import request_context
from gateway.store.models import Job, utcnow
from gateway.work import local_batch
from gateway.work.attempts import (
    Heartbeats,
    claim_values,
    count_retry,
    due_by,
    finish_statement,
    record_failure,
    request_id_of,
    reschedule_statement,
)
from gateway.work.kinds import KINDS, Kinds, handlers_of
from gateway.work.registry import AGAIN, GiveUp, Handler, Result, RetryLater

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

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
    claimed-but-not-called sends as the design allows (see gateway/work/handlers/send.py for how those
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
    """What one worker's jobs share: the runtime, the handler of each kind (from ``kinds``, the
    one list in `gateway.work.kinds`; a test hands its own kinds with it), the heartbeats of the
    jobs it holds, and its send threads (none with ``send_threads`` 1: every job runs on rq's own
    thread)."""

    def __init__(self, runtime: Runtime, send_threads: int = 1, kinds: Kinds = KINDS) -> None:
        self.runtime = runtime
        self.handlers = handlers_of(kinds)
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
        alone = local_batch.run_batch(self.runtime, self.handlers, ids, pool, self.heartbeats)
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
        raise RuntimeError(
            "lapor jobs run in `lapor-gateway worker` (gateway.work.worker), not a plain rq worker"
        )
    try:
        return run_job(jobs, job_id)
    except Exception as exc:
        log.warning(
            "job not run: the database failed around it; the reconciler pushes it again",
            extra={"job_id": job_id, "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
        return "deferred"


_LOOK = select(Job.kind, Job.status, Job.payload).where(Job.id == bindparam("id"))


def _claim_statement(job_id: int, now: datetime) -> Any:
    # One statement claims the row and reads what the job needs (RETURNING: SQLite 3.35+, PostgreSQL).
    return (
        update(Job)
        .where(Job.id == job_id, due_by(now))
        .values(**claim_values(now))
        .returning(Job.id, Job.payload, Job.attempts, Job.max_attempts)
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


def run_job(jobs: JobRunner, job_id: int, hand_off: bool = True) -> str:
    """Read, claim, act on and end job ``job_id`` (see `gateway.work.registry`); for a kind with
    a ``batch`` above one, other due jobs of it go through the same steps with it.

    ``hand_off``: a send goes to the send threads with the other due sends (`JobRunner.run_sends`);
    False runs it here (a job of such a batch that took the one-job path).

    Heartbeats: the claimed ids are held by the worker's `Heartbeats`, refreshed every second;
    the reconciler only suspects a running row older than its grace period (15 s), so no
    heartbeat needs writing per job here.
    """
    runtime = jobs.runtime
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
        handler = jobs.handlers.get(kind)
        to_pool = hand_off and handler is not None and jobs.pool is not None and kind in jobs.pool.kinds
        if handler is None:
            read_error = GiveUp(f"no handler for job kind {kind!r}")
        elif handler.batch == 1 and not to_pool:
            try:
                [seen] = handler.read(runtime, session, [dict(row[2] or {})])
            except Exception as exc:
                read_error = exc
    if to_pool:
        return jobs.run_sends(kind, job_id)
    return _claim_and_run(jobs, job_id, kind, handler, seen, read_error)


def _claim_and_run(
    jobs: JobRunner, job_id: int, kind: str, handler: Handler | None, seen: Any, error: BaseException | None
) -> str:
    """Claim the job (for a batched kind, with up to ``batch - 1`` more due jobs of it) and
    ``begin`` them; then ``start``, ``act`` and ``end`` them here.

    A kind claimed one job at a time was read before the claim, and its ``begin`` runs in the
    claim's transaction (in a savepoint: when it fails, the claim stays and the failure is
    recorded against this attempt like any other). A batched kind is claimed first, so that two
    workers draining one backlog never read the same jobs, and read after the claim."""
    runtime = jobs.runtime
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
    jobs.heartbeats.hold(ids)
    try:
        return _act_and_end(runtime, kind, handler, batch, error)
    finally:
        jobs.heartbeats.release(ids)


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
            with request_context(request_id_of(c.payload)):
                outcomes[c.job_id] = record_failure(
                    runtime, c.job_id, kind, error or RuntimeError("no handler"), c.attempts, c.max_attempts
                )
        return _summary(batch, outcomes)
    acted: list[_Claimed] = []
    for c in batch:
        with request_context(request_id_of(c.payload)):
            try:
                c.outcome = handler.act(runtime, c.state)
            except Exception as exc:  # RetryLater and GiveUp included
                outcomes[c.job_id] = record_failure(runtime, c.job_id, kind, exc, c.attempts, c.max_attempts)
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
                with request_context(request_id_of(waiting[0].payload) if len(waiting) == 1 else None):
                    results = handler.end(runtime, session, [(c.state, c.outcome) for c in waiting])
                _settle(session, waiting, results, outcomes, failed, again)
                retries = sum(1 for r in results if isinstance(r, RetryLater))
        except Exception as exc:
            if len(waiting) == 1:
                c = waiting[0]
                with request_context(request_id_of(c.payload)):
                    outcomes[c.job_id] = record_failure(
                        runtime, c.job_id, kind, exc, c.attempts, c.max_attempts
                    )
                return outcomes
            log.warning("batch not ended together; ending its jobs one by one", exc_info=True)
            for c in waiting:
                outcomes.update(end_jobs(runtime, kind, handler, [c]))
            return outcomes
        for _ in range(retries):
            count_retry(kind)
        for c, error in failed:
            with request_context(request_id_of(c.payload)):
                outcomes[c.job_id] = record_failure(
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
                reschedule_statement(c.job_id, result.delay, result.reason, refund=not result.counts)
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
