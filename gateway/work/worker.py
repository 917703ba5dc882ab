"""The worker process: one Runtime, the scheduler thread, and rq's SimpleWorker.

SimpleWorker runs jobs in this process instead of forking one child per job:
the runtime (database pool, Redis, provider clients, event loop) is built once
and reused. rq's signal handling gives a warm shutdown on SIGTERM (the current
job finishes); a SIGKILL loses nothing because the outbox row is still there
and the reconciler re-enqueues it.

With ``send_threads`` above 1, `send_message` jobs run on that many threads of this
process (see `gateway.work.runner.ConcurrentJobs`): a reply waiting for its provider no
longer holds the whole worker. A warm shutdown waits for the sends in flight.

The worker hands its `JobRunner` (runtime, heartbeats, send threads) to every job it runs
(`LaporWorker.execute_job`): rq's entrypoint finds nothing in a module-level setting.

rq's work loop gives up ("quitting") on some Redis errors, for example when
Redis restarts and the worker's own keys vanish under it. The worker then
starts a fresh rq worker after a pause instead of exiting, so a Redis restart
never needs an operator to restart the workers as well.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from urllib.parse import urlsplit

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from config.settings import load_settings
from gateway.config_snapshot import reload_on_sighup
from gateway.ops.logging_setup import configure_logging
from gateway.ops.metrics import serve_worker_metrics
from gateway.runtime import Runtime
from gateway.work.periodic import TASKS
from gateway.work.queue import QUEUE_NAME
from gateway.work.runner import JobRunner, serving
from gateway.work.scheduler import Scheduler

log = logging.getLogger(__name__)

# Seconds between attempts to start a new rq worker after the previous one quit on a Redis error.
RESTART_PAUSE = 1.0


#: Longest pause between two attempts to reach Redis while it is down.
REDIS_RETRY_MAX = 30.0


def redis_location(url: str) -> str:
    """host:port/db of a Redis URL, without its password (for log lines)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 6379}{parts.path or ''}"


def wait_for_redis(url: str, stop: threading.Event, retry_max: float = REDIS_RETRY_MAX) -> bool:
    """Block until Redis answers (True) or a stop is asked for (False).

    A worker started before Redis (a reboot, a compose file without ordering) waits
    with one clear line per attempt instead of exiting with a traceback; the pause
    doubles up to ``retry_max`` seconds.
    """
    pause = 1.0
    while not stop.is_set():
        connection = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            connection.ping()
            return True
        except RedisError as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            message = f"Redis at {redis_location(url)} is not reachable ({reason}); retrying in {pause:.0f} s"
            log.warning(message)
        finally:
            connection.close()
        if stop.wait(pause):
            break
        pause = min(pause * 2, retry_max)
    return False


class LaporWorker(SimpleWorker):
    """SimpleWorker that hands its `JobRunner` to the jobs it runs, and remembers whether a stop
    (SIGTERM/SIGINT) was asked for."""

    jobs: JobRunner
    stop_event: threading.Event

    @classmethod
    def for_jobs(cls, jobs: JobRunner, connection: Redis, stop: threading.Event | None = None) -> LaporWorker:
        """A worker on the gateway's queue over ``connection`` that runs its jobs with ``jobs``."""
        queue = Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)
        worker = cls([queue], connection=connection, serializer=JSONSerializer)
        worker.jobs = jobs
        worker.stop_event = stop or threading.Event()
        return worker

    def execute_job(self, job: Any, queue: Queue) -> Any:
        with serving(self.jobs):
            return super().execute_job(job, queue)

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stop_event.set()
        super().request_stop(signum, frame)


def run_worker(
    burst: bool = False, scheduler: bool = True, runtime: Runtime | None = None, send_threads: int = 32
) -> None:
    configure_logging()
    owned = runtime is None  # a runtime handed in (tests, bench.profile) stays open for its owner
    # The send threads, the job loop and the scheduler may each hold a connection.
    runtime = runtime or Runtime(load_settings(), threads=send_threads + 2)
    if runtime.queue is None:
        raise SystemExit("REDIS_URL is not set: the worker needs Redis (or use `lapor-gateway run`)")
    if owned:  # the process's own runtime: `kill -HUP` rebuilds its configuration snapshot
        reload_on_sighup(runtime.request_config_reload)
    metrics = serve_worker_metrics(runtime.settings.env)
    log.info(
        "worker started",
        extra={
            "pid": os.getpid(),
            "send_threads": send_threads,
            "burst": burst,
            "metrics_port": metrics.server_address[1] if metrics is not None else None,
        },
    )
    jobs = JobRunner(runtime, send_threads)
    pool = jobs.pool
    stop = threading.Event()
    sched = None
    try:
        if not wait_for_redis(runtime.queue.redis_url, stop):
            return
        sched = Scheduler(runtime, tasks=TASKS).start() if scheduler else None
        if sched is not None and burst:
            sched.run_once(force_reconcile=True)
        while True:
            # rq's loop gets a connection of its own: rq gives it a socket timeout longer than its
            # blocking dequeue. On the shared one (5 s, for quick pushes) an idle queue timed out and
            # rq backed off 1, 2, 4 ... 60 s before listening again.
            connection = Redis.from_url(
                runtime.queue.redis_url, socket_connect_timeout=2, health_check_interval=30
            )
            try:
                worker = LaporWorker.for_jobs(jobs, connection, stop)
                worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
            except Exception as exc:  # Redis vanished during start-up or teardown
                log.warning("rq worker stopped on an error", extra={"error": type(exc).__name__})
            finally:
                connection.close()
            if burst and pool is not None and not stop.is_set():
                # Sends still in flight may lead to more work: drain, then look again.
                pool.drain()
                if runtime.queue.depth():
                    continue
            if burst or stop.is_set():
                break
            log.warning("rq worker quit unexpectedly (Redis restarted?); starting a new one")
            if stop.wait(RESTART_PAUSE) or not wait_for_redis(runtime.queue.redis_url, stop):
                break
    finally:
        jobs.close()
        if sched is not None:
            sched.stop()
        if owned:
            runtime.close()
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()
        log.info("worker stopped", extra={"pid": os.getpid(), "asked": stop.is_set()})
