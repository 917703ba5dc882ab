"""The sends one rq delivery claims together: sent concurrently, recorded together.

When rq delivers a send to a worker with send threads, the worker takes with it as many
other due sends as it has free threads (`gateway.work.runner.JobRunner.run_sends`), and
they come here as one list. Instead of a look, a claim and a record per send (three write
transactions each, and on SQLite three turns of the single write lock), the list is read
in one read-only transaction (one statement for a batch of sends: `Handler.read`),
claimed in one write transaction (one conditional UPDATE for their messages: `Handler.begin`),
sent on the send threads, and the results are recorded by one recorder thread that writes
whatever has finished in a single transaction ("group commit").

Only as many sends are claimed as there are free send threads (the caller reserves the
threads first), and their calls are marked as starting in one more write (``calling``:
`Handler.start`) just before they are made. The guarantees are those of one send
at a time: the claim (message ``sending``, job ``running``) is committed before any provider
call; a worker killed after the claim and before the mark is known not to have called the
provider, one killed after the mark may have (gateway/work/handlers/send.py decides what then); a
send thread returns only once its result is committed, so a warm shutdown that waits for the
send threads leaves nothing unrecorded. Anything unusual (a failure to read, claim or record,
a provider error) goes through the one-job path of the runner: `run_batch` returns those ids.

This module imports nothing of the runner (the runner imports it): what both need is in
`gateway.work.attempts`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from gateway.ops.logging_setup import request_context
from gateway.store.models import Job, utcnow
from gateway.work.attempts import Heartbeats, claim_values, due_by, finish_statement, guarded
from gateway.work.registry import Handler

if TYPE_CHECKING:
    from gateway.runtime import Runtime
    from gateway.work.runner import ConcurrentJobs  # the pool that runs the sends (typing only)

log = logging.getLogger(__name__)

# Results written in one transaction at most (the recorder takes what has finished, up to this):
# enough to share a commit, few enough that the write lock is not held long (about 0.5 ms each).
RECORD_BATCH = 16


@dataclass
class _Started:
    job_id: int
    kind: str
    stage: Handler
    state: Any
    attempts: int
    max_attempts: int
    request_id: str | None = None  # of the webhook this send answers (its log lines carry it)


def run_batch(
    runtime: Runtime,
    handlers: Mapping[str, Handler],
    job_ids: list[int],
    pool: ConcurrentJobs,
    heartbeats: Heartbeats,
) -> list[int]:
    """Claim ``job_ids`` together, mark their calls as starting, and hand each send to a thread of
    ``pool``. One slot of the pool was reserved for each id (`ConcurrentJobs.reserve`): every
    send claimed here is called at once, none waits for a thread; unused slots are given back.

    Returns the ids to run on the one-job path (a slot stays reserved for each of them)."""
    slots = len(job_ids)
    alone: list[int] = []
    try:
        try:
            started, _finished, alone = _claim(runtime, handlers, job_ids)
        except Exception:  # the database failed: each job takes the one-job path
            log.warning("batch claim failed; sending one by one", exc_info=True)
            started, _finished, alone = [], [], list(job_ids)
        slots -= len(alone)
        heartbeats.hold(item.job_id for item in started)
        calls = _start(runtime, started, heartbeats)
        for item in calls:
            slots -= 1
            pool.run_reserved(_send, runtime, item, pool.recorder, heartbeats)
    finally:
        pool.unreserve(slots)
    return alone


def _start(runtime: Runtime, started: list[_Started], heartbeats: Heartbeats) -> list[_Started]:
    """Mark the claimed calls as starting, one write per kind (`Handler.start`).
    Returns those to call; if the mark fails, their jobs are retried later, and since their
    claim was never marked the retry knows they were not attempted."""
    by_stage: dict[int, list[_Started]] = {}
    for item in started:
        by_stage.setdefault(id(item.stage), []).append(item)
    calls: list[_Started] = []
    for items in by_stage.values():
        try:
            items[0].stage.start(runtime, [item.state for item in items])
        except Exception as exc:
            log.warning("calls not marked as starting; retried later", exc_info=True)
            for item in items:
                _record(runtime, item, exc, heartbeats)
        else:
            calls += items
    return calls


def _record(runtime: Runtime, item: _Started, exc: Exception, heartbeats: Heartbeats) -> None:
    """Record ``exc`` as the outcome of ``item``'s attempt (a retry, as for any failure)."""

    def fail() -> None:
        raise exc

    try:
        guarded(runtime, item.job_id, item.kind, item.attempts, item.max_attempts, fail)
    except Exception:  # the database is down: the reconciler sees the row
        log.exception("job outcome not recorded", extra={"job_id": item.job_id, "kind": item.kind})
    finally:
        heartbeats.release([item.job_id])


def _claim(
    runtime: Runtime, handlers: Mapping[str, Handler], job_ids: list[int]
) -> tuple[list[_Started], list[int], list[int]]:
    """Read and decide without the write lock, then claim in one transaction.

    Returns the sends to make, the ids that needed nothing (or were taken elsewhere), and ids
    to run on the one-job path (not a staged kind, or their first step failed).
    """
    seen: dict[int, Any] = {}
    alone: list[int] = []
    finished: list[int] = []
    to_read: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # kind -> (job id, payload)
    with runtime.db.session(write=False) as session:
        rows = session.execute(
            select(Job.id, Job.kind, Job.status, Job.payload).where(Job.id.in_(job_ids))
        ).all()
        for job_id, kind, status, payload in rows:
            if status != "pending":
                finished.append(job_id)
            elif kind not in handlers:
                alone.append(job_id)
            else:
                to_read.setdefault(kind, []).append((job_id, dict(payload or {})))
        for kind, jobs in to_read.items():
            _read(runtime, session, handlers[kind], jobs, seen, alone)
    missing = set(job_ids) - {row[0] for row in rows}
    finished += list(missing)  # a row rolled back with its savepoint: nothing to run
    if not seen:
        return [], finished, alone
    started: list[_Started] = []
    now = utcnow()
    with runtime.db.session() as session:
        claimed = session.execute(
            update(Job)
            .where(Job.id.in_(list(seen)), due_by(now))
            .values(**claim_values(now))
            .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
            .execution_options(synchronize_session=False)
        ).all()
        taken = {row[0] for row in claimed}
        finished += [job_id for job_id in seen if job_id not in taken]
        nothing_to_do: list[int] = []
        by_kind: dict[str, list[Any]] = {}
        for row in claimed:
            by_kind.setdefault(row[1], []).append(row)
        for kind, group in by_kind.items():
            # All of a kind in one call (one conditional UPDATE for a batch of sends). No
            # savepoint: if a first step fails, the whole claim rolls back and every job takes
            # the one-job path (see run_batch).
            stage = handlers[kind]
            states = stage.begin(
                runtime, session, [(dict(payload or {}), seen[job_id]) for job_id, _, payload, _, _ in group]
            )
            for (job_id, _, payload, attempts, max_attempts), state in zip(group, states, strict=True):
                if state is None:
                    nothing_to_do.append(job_id)
                else:
                    request_id = (payload or {}).get("request_id")
                    started.append(_Started(job_id, kind, stage, state, attempts, max_attempts, request_id))
        if nothing_to_do:
            session.execute(finish_statement(nothing_to_do, "done", None))
        finished += nothing_to_do
    return started, finished, alone


def _read(
    runtime: Runtime,
    session: Any,
    stage: Handler,
    jobs: list[tuple[int, dict[str, Any]]],
    seen: dict[int, Any],
    alone: list[int],
) -> None:
    """Read the jobs of one staged kind together (one statement for a batch of sends). If that
    fails, each is read alone, so that only a job whose own read fails (a bad payload, say)
    takes the one-job path, as when each was read by itself."""
    try:
        decided = stage.read(runtime, session, [dict(payload) for _, payload in jobs])
        if len(decided) != len(jobs):
            raise ValueError(f"read answered {len(decided)} results for {len(jobs)} jobs")
    except Exception:
        log.debug("batched read failed; reading one by one", exc_info=True)
    else:
        seen.update((job_id, state) for (job_id, _), state in zip(jobs, decided, strict=True))
        return
    for job_id, payload in jobs:
        try:
            [seen[job_id]] = stage.read(runtime, session, [dict(payload)])
        except Exception:
            alone.append(job_id)


def _send(runtime: Runtime, item: _Started, recorder: Recorder, heartbeats: Heartbeats) -> None:
    """One provider call, then its result through the recorder; errors as for one job."""

    def body() -> None:
        outcome = item.stage.act(runtime, item.state)
        recorder.record(runtime, item, outcome)

    try:
        with request_context(item.request_id):
            guarded(runtime, item.job_id, item.kind, item.attempts, item.max_attempts, body, finished=True)
    except Exception:  # the database failed while recording a failure: the reconciler sees the row
        log.exception("job outcome not recorded", extra={"job_id": item.job_id, "kind": item.kind})
    finally:
        heartbeats.release([item.job_id])


@dataclass
class _Result:
    runtime: Runtime
    item: _Started
    outcome: Any
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class Recorder:
    """Writes the results of finished sends, as many as are waiting, in one transaction.

    One per send pool (`ConcurrentJobs.recorder`); its thread starts on first use."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Result] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record(self, runtime: Runtime, item: _Started, outcome: Any) -> None:
        """Queue the result and wait until it is committed (or raise why it could not be)."""
        result = _Result(runtime, item, outcome)
        self._ensure_thread()
        self._queue.put(result)
        result.done.wait()
        if result.error is not None:
            raise result.error

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="lapor-recorder", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < RECORD_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except BaseException as exc:  # never leave a sender waiting
                for result in batch:
                    result.error = result.error or exc
            finally:
                for result in batch:
                    result.done.set()

    @staticmethod
    def _write(batch: list[_Result]) -> None:
        runtime = batch[0].runtime
        same = [r for r in batch if r.runtime is runtime]
        for other in batch:
            if other.runtime is not runtime:
                _write_alone(other)
        try:
            with runtime.db.session() as session:
                stages: dict[int, list[_Result]] = {}
                for result in same:
                    stages.setdefault(id(result.item.stage), []).append(result)
                for group in stages.values():
                    stage = group[0].item.stage
                    results = stage.end(runtime, session, [(r.item.state, r.outcome) for r in group])
                    if any(r is not None for r in results):  # not a plain end: each on its own
                        raise RuntimeError("a result other than done")
                session.execute(finish_statement([r.item.job_id for r in same], "done", None))
        except Exception:
            log.warning("results not recorded together; one by one", exc_info=True)
            for result in same:
                _write_alone(result)


def _end(session: Any, result: _Result) -> None:
    """One send's end, in its own transaction; a result other than done is raised to the send
    thread, which records it against the job (see `attempts.guarded`)."""
    item = result.item
    [ended] = item.stage.end(result.runtime, session, [(item.state, result.outcome)])
    if isinstance(ended, BaseException):
        raise ended
    if ended is not None:
        raise RuntimeError(f"end answered {ended!r}")
    session.execute(finish_statement(item.job_id, "done", None))


def _write_alone(result: _Result) -> None:
    try:
        with result.runtime.db.session() as session:
            _end(session, result)
    except Exception as exc:
        result.error = exc
