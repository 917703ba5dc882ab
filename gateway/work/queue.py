"""The rq side of the outbox: push job ids to Redis, with the JSON serializer.

`JobQueue.push_many` writes rq's records itself rather than calling
``Queue.enqueue_call`` per job: every job is the same call with one integer
argument, and rq's generic path (a `Job` object, its dependency checks, its
``to_dict``, two HSETs) was the largest single cost of a webhook ack. What lands
in Redis is what rq writes (same hash fields and values, same queue list, same
queue set), so rq's workers, `Job.fetch` and the dashboards see ordinary rq jobs;
a test compares the two field by field against the installed rq.

The records of a batch are written by one Lua script: one command and one reply
instead of a MULTI/EXEC of several (half the client CPU), and just as atomic. A
Redis that refuses scripts gets the same records through MULTI/EXEC.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import threading
import time
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import ResponseError
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
LIVE_STATUSES = frozenset({"queued", "started", "deferred", "scheduled"})

# rq's key layout and timestamp format (rq.job.Job, rq.queue.Queue, rq.utils.utcformat).
_JOB_KEY_PREFIX = RqJob.redis_job_namespace_prefix
_QUEUE_KEY = Queue.redis_queue_namespace_prefix + QUEUE_NAME
_QUEUES_KEY = Queue.redis_queues_keys
_RQ_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def rq_job_id(job_id: int) -> str:
    return f"lapor-job-{job_id}"


# The fields of rq's job hash that are the same for every job of ours: the callbacks and
# run-time fields rq writes empty, the queue, the deadlines and the status.
_STATIC_FIELDS: dict[str, str | int] = {
    "success_callback_name": "",
    "failure_callback_name": "",
    "stopped_callback_name": "",
    "started_at": "",
    "ended_at": "",
    "last_heartbeat": "",
    "worker_name": "",
    "group_id": "",
    "origin": QUEUE_NAME,
    "timeout": JOB_TIMEOUT,
    "result_ttl": RESULT_TTL,
    "failure_ttl": FAILURE_TTL,
    "status": "queued",
}


def _job_data(job_id: int) -> bytes:
    """rq's ``data`` field: the JSON serializer's (function, instance, args, kwargs), zlib-compressed."""
    return zlib.compress(json.dumps([ENTRYPOINT, None, [job_id], {}]).encode())


def _description(job_id: int) -> str:
    return f"{ENTRYPOINT}({job_id!r})"  # rq's get_call_string


def rq_job_fields(job_id: int, stamp: str) -> dict[str, str | int | bytes]:
    """The hash rq's ``Job.save`` writes for ``execute(job_id)`` enqueued at ``stamp``."""
    job_id = int(job_id)  # an int, never text: it is formatted into the payload and the key
    return {
        "created_at": stamp,
        "enqueued_at": stamp,
        "data": _job_data(job_id),
        "description": _description(job_id),
        **_STATIC_FIELDS,
    }


def _lua_literal(value: str | int) -> str:
    text = str(value)
    if not re.fullmatch(r"[\w.:-]*", text):
        raise ValueError(f"not a plain constant: {text!r}")
    return f"'{text}'"


# KEYS: rq's set of queues, our queue's list, then the hash key of each job.
# ARGV: the timestamp, then for each job its rq id, its data and its description.
_PUSH_SCRIPT = f"""
redis.call('SADD', KEYS[1], KEYS[2])
for i = 3, #KEYS do
  local a = 2 + (i - 3) * 3
  redis.call('HSET', KEYS[i], 'created_at', ARGV[1], 'enqueued_at', ARGV[1],
    'data', ARGV[a + 1], 'description', ARGV[a + 2],
    {", ".join(f"{_lua_literal(k)}, {_lua_literal(v)}" for k, v in _STATIC_FIELDS.items())})
  redis.call('RPUSH', KEYS[2], ARGV[a])
end
return #KEYS - 2
"""


class JobQueue:
    """Pushes outbox rows to rq. Failures are logged, never raised: the scheduler retries."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.redis = Redis.from_url(
            redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
        )
        self.queue = Queue(QUEUE_NAME, connection=self.redis, serializer=JSONSerializer)
        # redis-py loads the script on first use and again after a Redis restart (NOSCRIPT).
        self._push_script = self.redis.register_script(_PUSH_SCRIPT)
        self.scripting = True
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
            stamp = datetime.now(UTC).strftime(_RQ_TIMESTAMP)
            # All of a batch or none of it (a script runs whole, as MULTI/EXEC does): a hash
            # without its queue entry would look "queued" to `exists` forever, so the
            # reconciler would never push it again.
            if self.scripting:
                try:
                    self._push_by_script(ids, stamp)
                    return True
                except ResponseError as exc:  # scripting off (ACL, managed Redis): MULTI/EXEC
                    self._push_by_transaction(ids, stamp)
                    self.scripting = False
                    log.warning(
                        "Redis refused the enqueue script, using MULTI/EXEC", extra={"error": str(exc)}
                    )
                    return True
            self._push_by_transaction(ids, stamp)
            return True
        except Exception as exc:  # Redis down: the database still has the work
            log.warning(
                "enqueue failed, the scheduler will retry", extra={"error": str(exc), "jobs": len(ids)}
            )
            return False

    def forget_many(self, job_ids: Iterable[int]) -> None:
        """Take jobs out of the queue (a worker claimed them with another; see the runner's
        batches). Best effort: a copy left behind is skipped at its claim, and a worker that
        pops an id whose hash is gone moves on (rq skips it)."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for job_id in job_ids:
                    key = rq_job_id(job_id)
                    pipe.lrem(_QUEUE_KEY, 1, key)
                    pipe.delete(_JOB_KEY_PREFIX + key)
                pipe.execute()
        except Exception:  # Redis down: the copies are skipped when they come up
            log.debug("claimed jobs not removed from Redis", exc_info=True)

    def _push_by_script(self, ids: list[int], stamp: str) -> None:
        keys = [_QUEUES_KEY, _QUEUE_KEY]
        args: list[str | bytes] = [stamp]
        for job_id in ids:
            job_id = int(job_id)
            key = rq_job_id(job_id)
            keys.append(_JOB_KEY_PREFIX + key)
            args += (key, _job_data(job_id), _description(job_id))
        self._push_script(keys=keys, args=args)

    def _push_by_transaction(self, ids: list[int], stamp: str) -> None:
        keys = [rq_job_id(job_id) for job_id in ids]
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(_QUEUES_KEY, _QUEUE_KEY)
            for job_id, key in zip(ids, keys, strict=True):
                pipe.hset(_JOB_KEY_PREFIX + key, mapping=rq_job_fields(job_id, stamp))
            pipe.rpush(_QUEUE_KEY, *keys)
            pipe.execute()

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
    script call for many). Nothing is lost that the synchronous push would keep: the job's
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


_CURRENT: JobQueue | None = None


def set_current_queue(queue: JobQueue | None) -> None:
    """Set the process's queue; commits in this process enqueue through it."""
    global _CURRENT
    _CURRENT = queue


def current_queue() -> JobQueue | None:
    return _CURRENT
