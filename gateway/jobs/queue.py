"""The rq side of the outbox: push job ids to Redis, with the JSON serializer."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

QUEUE_NAME = "lapor"
ENTRYPOINT = "gateway.jobs.runner.execute"
# rq keeps nothing after a job ends: the database row is the record of it.
RESULT_TTL = 0
FAILURE_TTL = 3600
# The handler's own deadline; sends time out much earlier (provider timeouts).
JOB_TIMEOUT = 300
LIVE_STATUSES = frozenset({"queued", "started", "deferred", "scheduled"})


def rq_job_id(job_id: int) -> str:
    return f"lapor-job-{job_id}"


class JobQueue:
    """Pushes outbox rows to rq. Failures are logged, never raised: the scheduler retries."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.redis = Redis.from_url(
            redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
        )
        self.queue = Queue(QUEUE_NAME, connection=self.redis, serializer=JSONSerializer)

    def push_many(self, job_ids: Iterable[int]) -> bool:
        """Enqueue each id; False (and nothing raised) when Redis does not answer."""
        ids = list(job_ids)
        if not ids:
            return True
        try:
            with self.redis.pipeline() as pipe:
                for job_id in ids:
                    self.queue.enqueue_call(
                        ENTRYPOINT,
                        args=(job_id,),
                        job_id=rq_job_id(job_id),
                        result_ttl=RESULT_TTL,
                        failure_ttl=FAILURE_TTL,
                        timeout=JOB_TIMEOUT,
                        pipeline=pipe,
                    )
                pipe.execute()
            return True
        except Exception as exc:  # Redis down: the database still has the work
            log.warning(
                "enqueue failed, the scheduler will retry", extra={"error": str(exc), "jobs": len(ids)}
            )
            return False

    def exists(self, job_id: int) -> bool:
        """Whether rq still holds this job and will still run it (queued, scheduled or running).

        A job rq gave up on (failed, stopped, canceled: its job timeout, a worker's
        registry clean-up after a crash) counts as gone, so the reconciler pushes it again.
        """
        try:
            job = RqJob.fetch(rq_job_id(job_id), connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return False
        status = job.get_status(refresh=False)
        return status is None or str(getattr(status, "value", status)) in LIVE_STATUSES

    def depth(self) -> int:
        return len(self.queue)

    def ping(self) -> None:
        self.redis.ping()


_CURRENT: JobQueue | None = None


def set_current_queue(queue: JobQueue | None) -> None:
    """Set the process's queue; commits in this process enqueue through it."""
    global _CURRENT
    _CURRENT = queue


def current_queue() -> JobQueue | None:
    return _CURRENT
