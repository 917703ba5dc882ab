"""The worker process: one Runtime, the scheduler thread, and rq's SimpleWorker.

SimpleWorker runs jobs in this process instead of forking one child per job:
the runtime (database pool, Redis, provider clients, event loop) is built once
and reused. rq's signal handling gives a warm shutdown on SIGTERM (the current
job finishes); a SIGKILL loses nothing because the outbox row is still there
and the reconciler re-enqueues it.
"""

from __future__ import annotations

import logging

from rq import SimpleWorker
from rq.serializers import JSONSerializer

from config.settings import load_settings
from gateway.jobs.runner import set_runtime
from gateway.jobs.scheduler import Scheduler
from gateway.logging_setup import configure_logging
from gateway.runtime import Runtime

log = logging.getLogger(__name__)


def run_worker(burst: bool = False, scheduler: bool = True, runtime: Runtime | None = None) -> None:
    configure_logging()
    runtime = runtime or Runtime(load_settings())
    if runtime.queue is None:
        raise SystemExit("REDIS_URL is not set: the worker needs Redis (or use `lapor-gateway run`)")
    import gateway.periodic
    import gateway.tasks  # noqa: F401  (registers job handlers)

    set_runtime(runtime)
    sched = Scheduler(runtime).start() if scheduler else None
    try:
        worker = SimpleWorker(
            [runtime.queue.queue], connection=runtime.queue.redis, serializer=JSONSerializer
        )
        if sched is not None and burst:
            sched.run_once(force_reconcile=True)
        worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
    finally:
        if sched is not None:
            sched.stop()
        runtime.close()
