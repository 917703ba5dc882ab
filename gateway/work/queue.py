"""The rq side of the outbox: enqueue job ids through rq's own API, with the JSON serializer.

Every job is the same call, ``execute(job_id)``, under an rq job id we choose
(`rq_job_id`): pushing the same outbox row twice (the after-commit push, then the
reconciler after a Redis restart) writes the same rq job again instead of a second one,
and the claim in the database makes a second delivery a no-op. rq writes its own
records (`Queue.enqueue_many`): what it stores is its business, so an rq upgrade
cannot leave jobs its workers cannot read.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

QUEUE_NAME = "lapor"
ENTRYPOINT = "gateway.work.runner.execute"
# rq keeps nothing after a job ends: the database row is the record of it.
RESULT_TTL = 0
FAILURE_TTL = 3600
# The handler's own deadline; sends time out much earlier (provider timeouts).
JOB_TIMEOUT = 300
# Seconds rq keeps the hash of a job taken off the queue by `forget_many`.
FORGOTTEN_TTL = 1
LIVE_STATUSES = frozenset({"queued", "started", "deferred", "scheduled"})


def rq_job_id(job_id: int) -> str:
    """The rq job id of outbox row ``job_id``: the same row is always the same rq job."""
    return f"lapor-job-{int(job_id)}"


class JobQueue:
    """Pushes outbox rows to rq. Failures are logged, never raised: the scheduler retries."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.redis = Redis.from_url(
            redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
        )
        self.queue = Queue(QUEUE_NAME, connection=self.redis, serializer=JSONSerializer)
        self._background: BackgroundPusher | None = None

    def push_in_background(self) -> None:
        """From now on `push_many` hands the ids to a thread of this process and returns at once
        (the web process calls this; see `BackgroundPusher`)."""
        if self._background is None:
            self._background = BackgroundPusher(self)
            atexit.register(self._background.flush)

    def push_many(self, job_ids: Iterable[int]) -> bool:
        """Enqueue each id; False (and nothing raised) when Redis does not answer. In the
        background (`push_in_background`): True once the ids are handed over."""
        ids = list(job_ids)
        if not ids:
            return True
        if self._background is not None:
            self._background.submit(ids)
            return True
        return self.push_now(ids)

    def push_now(self, ids: list[int]) -> bool:
        """`push_many` in this thread, whatever the mode."""
        if not ids:
            return True
        try:
            # All of a batch or none of it (MULTI/EXEC): a job hash without its queue entry would
            # look "queued" to `exists` forever, so the reconciler would never push it again.
            with self.redis.pipeline(transaction=True) as pipe:
                self.queue.enqueue_many(
                    [
                        Queue.prepare_data(
                            ENTRYPOINT,
                            args=(int(job_id),),
                            job_id=rq_job_id(job_id),
                            timeout=JOB_TIMEOUT,
                            result_ttl=RESULT_TTL,
                            failure_ttl=FAILURE_TTL,
                        )
                        for job_id in dict.fromkeys(ids)  # rq refuses one id twice in a batch
                    ],
                    pipeline=pipe,
                )
                pipe.execute()
            return True
        except Exception as exc:  # Redis down: the database still has the work
            log.warning(
                "enqueue failed, the scheduler will retry", extra={"error": str(exc), "jobs": len(ids)}
            )
            return False

    def forget_many(self, job_ids: Iterable[int]) -> None:
        """Take the rq jobs of rows a worker claimed together with another off the queue (see the
        runner's batches), so that rq does not deliver them again for nothing. Best effort: a copy
        left behind is skipped at its claim.

        rq's own calls, in one pipeline: `Queue.remove` takes the id off the queue and
        `Job.cleanup` lets its hash expire (`FORGOTTEN_TTL`). Not `Job.delete`: it fetches each
        job and reads its status first, 40 times the cost, on the worker's hot path. Only rows
        already claimed are forgotten: until the hash expires `exists` still says "queued",
        which the reconciler asks of pending rows only."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for job_id in job_ids:
                    job = RqJob(rq_job_id(job_id), connection=self.redis, serializer=JSONSerializer)
                    self.queue.remove(job, pipeline=pipe)
                    job.cleanup(ttl=FORGOTTEN_TTL, pipeline=pipe)
                pipe.execute()
        except Exception:  # Redis down: the copies are skipped when they come up
            log.debug("claimed jobs not removed from Redis", exc_info=True)

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


class BackgroundPusher:
    """One thread per process that pushes the ids the request threads hand it, in batches.

    A webhook's answer then waits for its commit only, not for the Redis round trip after it,
    and under load the ids that gather while one push runs go together in the next (one
    push for many). Nothing is lost that the synchronous push would keep: the job's
    row is committed first either way, and if the process dies before the push, or Redis
    does not answer, the reconciler finds the row missing from Redis and pushes it again
    (as after any failed push). At exit the thread is given a moment to finish.
    """

    MAX_BATCH = 500

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self._ids: list[int] = []
        self._busy = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, ids: list[int]) -> None:
        with self._cond:
            self._ids.extend(ids)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                # Started on first use in this process (gunicorn forks its workers after import).
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._loop, name="lapor-push", daemon=True)
                self._thread.start()
            self._cond.notify()

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every id handed over so far was pushed (or its push failed); False if
        ``timeout`` seconds were not enough."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._ids or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return not (self._ids or self._busy)
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._ids:
                    self._cond.wait()
                batch, self._ids = self._ids[: self.MAX_BATCH], self._ids[self.MAX_BATCH :]
                self._busy = True
            try:
                self._queue.push_now(batch)  # logs and returns False when Redis does not answer
            except Exception:  # never let the thread die: the reconciler pushes what is missed
                log.exception("background push failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
