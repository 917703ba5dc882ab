"""gunicorn hooks for `lapor-gateway web` (loaded with ``--config python:gateway.ops.gunicorn_conf``).

prometheus-client's multiprocess mode keeps each worker process's counters in files under
``PROMETHEUS_MULTIPROC_DIR`` (the `web` command makes that directory fresh at every start:
`gateway.ops.metrics.prepare_multiprocess_dir`). When a worker exits, its gauges must stop
counting (``mark_process_dead``); its counters stay summed, so a restarted worker does not
make ``lapor_webhooks_total`` jump back.
"""

from __future__ import annotations

from typing import Any

from gateway.ops.metrics import mark_process_dead

logger_class = "gateway.ops.access_log.JsonGunicornLogger"


def child_exit(server: Any, worker: Any) -> None:
    mark_process_dead(worker.pid)
