"""`JobQueue.push_many` writes rq's records itself: they must be exactly what rq writes and run.

The comparison is against the installed rq, so an rq upgrade that changes its job
layout fails here instead of leaving jobs that workers cannot read. Both ways of
writing are checked: the Lua script and the MULTI/EXEC used where scripts are refused.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from redis.exceptions import ResponseError
from rq import Queue, SimpleWorker
from rq.job import Job as RqJob
from rq.serializers import JSONSerializer
from sqlalchemy import select

from gateway.jobs import record_job
from gateway.jobs.queue import (
    ENTRYPOINT,
    FAILURE_TTL,
    JOB_TIMEOUT,
    QUEUE_NAME,
    RESULT_TTL,
    rq_job_id,
)
from gateway.jobs.registry import HANDLERS, FunctionHandler
from gateway.models import Job

# Fields that hold the moment of the enqueue, different by nature between two enqueues.
_TIMESTAMPS = {b"created_at", b"enqueued_at"}


def _hash(runtime: Any, job_id: int) -> dict[bytes, bytes]:
    return runtime.queue.redis.hgetall(f"rq:job:{rq_job_id(job_id)}")


@pytest.fixture(params=["script", "transaction"])
def runtime(request: pytest.FixtureRequest, runtime: Any) -> Any:
    """The test runtime, its queue writing one way or the other."""
    runtime.queue.scripting = request.param == "script"
    return runtime


def test_push_many_writes_the_same_job_hash_as_rq(runtime: Any) -> None:
    redis = runtime.queue.redis
    rq_queue = Queue(QUEUE_NAME, connection=redis, serializer=JSONSerializer)
    with redis.pipeline() as pipe:
        rq_queue.enqueue_call(
            ENTRYPOINT,
            args=(101,),
            job_id=rq_job_id(101),
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            timeout=JOB_TIMEOUT,
            pipeline=pipe,
        )
        pipe.execute()
    by_rq = _hash(runtime, 101)
    redis.delete(f"rq:job:{rq_job_id(101)}", f"rq:queue:{QUEUE_NAME}", "rq:queues")

    assert runtime.queue.push_many([101]) is True
    ours = _hash(runtime, 101)

    assert set(ours) == set(by_rq)
    assert {k: v for k, v in ours.items() if k not in _TIMESTAMPS} == {
        k: v for k, v in by_rq.items() if k not in _TIMESTAMPS
    }
    assert zlib.decompress(ours[b"data"]) == JSONSerializer.dumps([ENTRYPOINT, None, [101], {}])
    for field in _TIMESTAMPS:  # the same format rq parses back
        assert ours[field].endswith(b"Z") and len(ours[field]) == len(by_rq[field])
    assert redis.lrange(f"rq:queue:{QUEUE_NAME}", 0, -1) == [rq_job_id(101).encode()]
    assert redis.smembers("rq:queues") == {f"rq:queue:{QUEUE_NAME}".encode()}


def test_pushed_jobs_load_in_rq_and_count_as_live(runtime: Any) -> None:
    assert runtime.queue.push_many([7, 8, 9]) is True
    assert runtime.queue.push_many(range(10, 310)) is True  # a reconciler-sized batch
    assert runtime.queue.depth() == 303
    assert runtime.queue.redis.lrange(f"rq:queue:{QUEUE_NAME}", 0, -1) == [
        rq_job_id(n).encode() for n in (7, 8, 9, *range(10, 310))
    ]
    assert _hash(runtime, 309)[b"description"] == f"{ENTRYPOINT}(309)".encode()
    job = RqJob.fetch(rq_job_id(8), connection=runtime.queue.redis, serializer=JSONSerializer)
    assert job.func_name == ENTRYPOINT
    assert list(job.args) == [8] and job.kwargs == {}
    assert (job.timeout, job.result_ttl, job.failure_ttl) == (JOB_TIMEOUT, RESULT_TTL, FAILURE_TTL)
    assert job.origin == QUEUE_NAME
    assert job.get_status(refresh=False) == "queued"
    assert job.enqueued_at is not None and job.created_at is not None
    assert runtime.queue.exists(8) is True
    assert runtime.queue.exists(6) is False


def test_a_pushed_job_runs_in_a_real_rq_worker(runtime: Any) -> None:
    ran: list[dict[str, Any]] = []
    HANDLERS["test_push_many_probe"] = FunctionHandler(lambda _ctx, payload: ran.append(payload))
    try:
        with runtime.db.session() as session:
            job_id = record_job(session, "test_push_many_probe", {"n": 1})
        # The commit already pushed it; push it again as the reconciler would: rq runs it
        # (the claim makes the second delivery a no-op).
        assert runtime.queue.push_many([job_id]) is True
        worker = SimpleWorker(
            [runtime.queue.queue], connection=runtime.queue.redis, serializer=JSONSerializer
        )
        worker.work(burst=True, logging_level="ERROR")
    finally:
        HANDLERS.pop("test_push_many_probe", None)
    assert ran == [{"n": 1}]
    with runtime.db.session(write=False) as session:
        assert session.scalar(select(Job.status).where(Job.id == job_id)) == "done"
    assert runtime.queue.depth() == 0
    # result_ttl 0: rq keeps nothing of a finished job; the row is the record.
    assert runtime.queue.exists(job_id) is False


def test_push_many_reports_failure_instead_of_raising(runtime: Any) -> None:
    from gateway.jobs.queue import JobQueue

    dead = JobQueue("redis://127.0.0.1:1/0")
    assert dead.push_many([1, 2]) is False
    assert dead.push_many([]) is True


def test_a_redis_refusing_scripts_gets_the_same_records_by_transaction(
    runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**_kwargs: Any) -> None:
        raise ResponseError("NOPERM this user has no permissions to run the 'evalsha' command")

    runtime.queue.scripting = True
    monkeypatch.setattr(runtime.queue, "_push_script", refuse)
    assert runtime.queue.push_many([5]) is True
    assert runtime.queue.scripting is False  # not asked again
    assert runtime.queue.exists(5) is True
    assert runtime.queue.push_many([6]) is True
    assert runtime.queue.depth() == 2


def test_the_script_is_loaded_again_after_redis_forgot_it(runtime: Any) -> None:
    assert runtime.queue.push_many([1]) is True
    runtime.queue.redis.script_flush()  # as after a Redis restart
    assert runtime.queue.push_many([2]) is True
    assert runtime.queue.depth() == 2
