"""Recording jobs in the database and pushing them to Redis after the commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.orm import Session

from gateway.ops.logging_setup import current_request_id
from gateway.store.db import insert_ignoring
from gateway.store.models import Job, utcnow

if TYPE_CHECKING:
    from gateway.store.db import Database
    from gateway.work.queue import JobQueue

log = logging.getLogger(__name__)

_PENDING_KEY = "lapor_pending_jobs"
# The queue a session pushes its committed jobs to: handed to the sessions of a database by
# `push_commits_to`, not looked up in a global, so two runtimes in one process (tests, the
# benchmark) each push to their own Redis.
_QUEUE_KEY = "lapor_job_queue"


def push_commits_to(db: Database, queue: JobQueue | None) -> None:
    """Make every session of ``db`` push the jobs it commits to ``queue`` (None: no push; the
    scheduler finds them)."""
    db.sessionmaker.configure(info={_QUEUE_KEY: queue})


def record_job(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    delay: float | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
) -> int:
    """Add a job row in ``session``'s transaction and return its id; it is enqueued once the
    session commits.

    With ``dedupe_key`` an existing job of that key is returned instead, so that
    "forward ticket 12 to the agency" is recorded once however often it is asked. One Core
    statement either way (``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING id``):
    no ORM object, flush or savepoint, which the worker paid for on every reply.
    """
    values = job_values(kind, payload, run_at, delay, dedupe_key, max_attempts)
    statements = _statements(session)
    if dedupe_key is None:
        job_id = int(session.execute(statements["insert"], values).scalar_one())
    else:
        inserted = session.execute(statements["insert_once"], values).scalar_one_or_none()
        if inserted is None:
            # Recorded before (or by a concurrent transaction): that one stands.
            return int(session.execute(statements["by_key"], {"key": dedupe_key}).scalar_one())
        job_id = int(inserted)
    enqueue_when_due(session, kind, values, [job_id])
    return job_id


@dataclass(frozen=True)
class JobSpec:
    """One job for `record_jobs`: the arguments of `record_job`, a dedupe key required."""

    kind: str
    payload: dict[str, Any]
    dedupe_key: str
    delay: float | None = None
    max_attempts: int = 8


def record_jobs(session: Session, specs: list[JobSpec]) -> list[int]:
    """`record_job` for many keyed jobs in one statement (an executemany ``INSERT ... ON CONFLICT
    DO NOTHING RETURNING``): a batch of conversation turns records its jobs at once instead of
    paying SQLAlchemy's per-statement cost for each. Returns the ids in the order of ``specs``;
    a key recorded before keeps its existing job, as with `record_job`."""
    if not specs:
        return []
    rows = [job_values(s.kind, s.payload, None, s.delay, s.dedupe_key, s.max_attempts) for s in specs]
    statements = _statements(session)
    ids = {key: int(job_id) for job_id, key in session.execute(statements["insert_many"], rows).all()}
    for spec, values in zip(specs, rows, strict=True):
        if spec.dedupe_key in ids:
            enqueue_when_due(session, spec.kind, values, [ids[spec.dedupe_key]])
    for key in {s.dedupe_key for s in specs} - set(ids):
        ids[key] = int(session.execute(statements["by_key"], {"key": key}).scalar_one())
    return [ids[s.dedupe_key] for s in specs]


def job_values(
    kind: str,
    payload: dict[str, Any] | None,
    run_at: datetime | None = None,
    delay: float | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
) -> dict[str, Any]:
    """The row of a job as `record_job` inserts it (for callers that insert it themselves)."""
    now = utcnow()
    when = run_at or now
    if delay:
        when = when + timedelta(seconds=delay)
    request_id = current_request_id()
    if request_id and not (payload or {}).get("request_id"):
        # The webhook (or job) this work comes from, for its log lines: see gateway.ops.logging_setup.
        payload = {**(payload or {}), "request_id": request_id}
    return {
        "kind": kind,
        "payload": payload or {},
        "run_at": when,
        "dedupe_key": dedupe_key,
        "max_attempts": max_attempts,
        "status": "pending",
        # Pushed to Redis right after the commit; the reconciler re-pushes it if that push is
        # lost (Redis down), judging by this timestamp.
        "enqueued_at": now if when <= now + timedelta(seconds=1) else None,
    }


def enqueue_when_due(session: Session, kind: str, values: dict[str, Any], job_ids: list[int]) -> None:
    """Remember jobs due now, to push after the commit; later ones wait for the scheduler.
    For jobs inserted with `job_values` outside `record_job` (the webhook's)."""
    if values["enqueued_at"] is not None:
        session.info.setdefault(_PENDING_KEY, []).extend(job_ids)


_STATEMENTS: dict[str, dict[str, Any]] = {}


def _statements(session: Session) -> dict[str, Any]:
    """Built once per dialect: the plain insert, the insert that yields to an existing
    dedupe key, and the lookup of that existing row."""
    name = session.get_bind().dialect.name
    found = _STATEMENTS.get(name)
    if found is None:
        jobs = Job.__table__
        found = _STATEMENTS[name] = {
            "insert": insert(jobs).returning(jobs.c.id),
            "insert_once": insert_ignoring(name, jobs, "dedupe_key").returning(jobs.c.id),
            "insert_many": insert_ignoring(name, jobs, "dedupe_key").returning(jobs.c.id, jobs.c.dedupe_key),
            "by_key": select(jobs.c.id).where(jobs.c.dedupe_key == bindparam("key")),
        }
    return found


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint released (SQLAlchemy calls after_commit for those too): the rows are not
        # committed yet, so a worker would not find them.
        return
    ids = session.info.pop(_PENDING_KEY, None)
    if not ids:
        return
    queue: JobQueue | None = session.info.get(_QUEUE_KEY)
    if queue is None:
        return  # no Redis configured for this database: the scheduler will find them
    queue.push_many(ids)


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        # Only a savepoint was rolled back: jobs recorded before it still stand. The ids of rows
        # recorded inside it are kept too, and harmless: a claim of a missing row does nothing.
        return
    session.info.pop(_PENDING_KEY, None)
