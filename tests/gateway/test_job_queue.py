"""`JobQueue` enqueues through rq's own API: rq writes its records, and they run in rq's workers.

Each outbox row is one rq job under an id we choose (`rq_job_id`), so pushing a row twice
(the after-commit push, then the reconciler) leaves one rq job, not two.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from rq.job import Job as RqJob
from rq.serializers import JSONSerializer
from sqlalchemy import select

from gateway.store.models import Job
from gateway.work import queue as queue_module
from gateway.work import record_job
from gateway.work.kinds import KINDS
from gateway.work.queue import (
    ENTRYPOINT,
    FAILURE_TTL,
    FORGOTTEN_TTL,
    JOB_TIMEOUT,
    QUEUE_NAME,
    RESULT_TTL,
    rq_job_id,
)
from gateway.work.registry import FunctionHandler
from tests.helpers import drain_jobs


def test_the_queue_writes_no_redis_record_of_rqs_itself() -> None:
    """rq's records are rq's business: no script, no hash fields, no key names of rq's here."""
    source = inspect.getsource(queue_module)
    for written_by_hand in ("register_script", "hset", "rpush", "lrem", "rq:job:", "rq:queue:"):
        assert written_by_hand not in source, written_by_hand


def test_pushed_jobs_load_in_rq_and_count_as_live(runtime: Any) -> None:
    assert runtime.queue.push_many([7, 8, 9]) is True
    assert runtime.queue.push_many(range(10, 310)) is True  # a reconciler-sized batch
    assert runtime.queue.depth() == 303
    assert runtime.queue.queue.get_job_ids() == [rq_job_id(n) for n in (7, 8, 9, *range(10, 310))]
    job = RqJob.fetch(rq_job_id(8), connection=runtime.queue.redis, serializer=JSONSerializer)
    assert job.func_name == ENTRYPOINT
    assert list(job.args) == [8] and job.kwargs == {}
    assert (job.timeout, job.result_ttl, job.failure_ttl) == (JOB_TIMEOUT, RESULT_TTL, FAILURE_TTL)
    assert job.origin == QUEUE_NAME
    assert job.get_status(refresh=False) == "queued"
    assert runtime.queue.exists(8) is True
    assert runtime.queue.exists(6) is False


def test_the_same_row_pushed_twice_is_one_rq_job(runtime: Any) -> None:
    assert runtime.queue.push_many([41, 41, 42]) is True  # twice in one push
    assert runtime.queue.push_many([41]) is True  # and again, as the reconciler does
    stored = {key for key in runtime.queue.redis.keys("rq:job:lapor-job-*")}
    assert stored == {f"rq:job:{rq_job_id(n)}".encode() for n in (41, 42)}


def test_forgotten_jobs_leave_the_queue_at_once_and_redis_soon(runtime: Any) -> None:
    assert runtime.queue.push_many([1, 2, 3]) is True
    runtime.queue.forget_many([2, 3, 99])  # 99 was never pushed
    assert runtime.queue.queue.get_job_ids() == [rq_job_id(1)]
    time.sleep(FORGOTTEN_TTL + 0.5)
    assert runtime.queue.exists(2) is False and runtime.queue.exists(3) is False
    assert runtime.queue.exists(1) is True
    assert sorted(runtime.queue.redis.keys("rq:job:lapor-job-*")) == [f"rq:job:{rq_job_id(1)}".encode()]


def test_a_pushed_job_runs_in_a_real_rq_worker(runtime: Any) -> None:
    ran: list[dict[str, Any]] = []
    probe = FunctionHandler(lambda _ctx, payload: ran.append(payload))
    with runtime.db.session() as session:
        job_id = record_job(session, "test_push_many_probe", {"n": 1})
    # The commit already pushed it; push it again as the reconciler would: rq runs it
    # (the claim makes the second delivery a no-op).
    assert runtime.queue.push_many([job_id]) is True
    drain_jobs(runtime, rounds=1, kinds=(*KINDS, ("test_push_many_probe", probe)))
    assert ran == [{"n": 1}]
    with runtime.db.session(write=False) as session:
        assert session.scalar(select(Job.status).where(Job.id == job_id)) == "done"
    assert runtime.queue.depth() == 0
    # result_ttl 0: rq keeps nothing of a finished job; the row is the record.
    assert runtime.queue.exists(job_id) is False


def test_push_many_reports_failure_instead_of_raising(runtime: Any) -> None:
    from gateway.work.queue import JobQueue

    dead = JobQueue("redis://127.0.0.1:1/0")
    assert dead.push_many([1, 2]) is False
    assert dead.push_many([]) is True
