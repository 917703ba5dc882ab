"""Prometheus metrics at ``GET /metrics``.

Events are counted where they happen (webhooks by channel and result, job
failures, send latency); states (queue depth, tickets by status, overdue
tickets, failed deliveries) are read from Redis and the database at scrape
time, so every process reports the same truth and nothing drifts.

Under gunicorn (`lapor-gateway web`) the counters of all worker processes are summed
through prometheus-client's multiprocess mode: the `web` command points
``PROMETHEUS_MULTIPROC_DIR`` at a directory it empties at every start
(`prepare_multiprocess_dir`), and gunicorn's ``child_exit`` hook marks a finished worker
dead (gateway.ops.gunicorn_conf). Without it (tests, `lapor-gateway run`) the default
registry is used.

The job worker is another process with counters of its own (send latency, job failures,
retries): with ``LAPOR_WORKER_METRICS_PORT`` set it serves them at ``/metrics`` on that port
(`serve_worker_metrics`); Prometheus scrapes each worker as a target of its own.
"""

from __future__ import annotations

import glob
import logging
import os
import tempfile
from collections.abc import Iterator, MutableMapping
from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

log = logging.getLogger(__name__)

metrics_bp = Blueprint("metrics", __name__)

WEBHOOKS = Counter(
    "lapor_webhooks_total",
    "Webhook requests by channel and result (accepted, duplicate, bad_signature, malformed, "
    "storage_unavailable, channel_off)",
    ["channel", "result"],
)
JOB_FAILURES = Counter("lapor_job_failures_total", "Jobs marked failed after their last attempt", ["kind"])
JOB_RETRIES = Counter("lapor_job_retries_total", "Job attempts that will be retried", ["kind"])
SEND_SECONDS = Histogram(
    "lapor_send_seconds",
    "Time a provider took to accept (or refuse) one message",
    ["channel", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


# The counter of each (channel, result) seen, so a webhook does not look its labels up
# again (validation, a lock and a dict per call). prometheus-client hands out the same
# child for the same labels anyway; this only skips the asking.
_WEBHOOK_COUNTERS: dict[tuple[str, str], Any] = {}


def record_webhook(channel: str, result: str) -> None:
    """Count one webhook request; never lets a metrics problem fail the request."""
    try:
        counter = _WEBHOOK_COUNTERS.get((channel, result))
        if counter is None:
            counter = _WEBHOOK_COUNTERS[(channel, result)] = WEBHOOKS.labels(channel=channel, result=result)
        counter.inc()
    except Exception:  # pragma: no cover - a broken multiprocess dir must not break webhooks
        log.debug("metric not recorded", exc_info=True)


def record_job_failure(kind: str) -> None:
    try:
        JOB_FAILURES.labels(kind=kind).inc()
    except Exception:  # pragma: no cover
        log.debug("metric not recorded", exc_info=True)


def record_job_retry(kind: str) -> None:
    try:
        JOB_RETRIES.labels(kind=kind).inc()
    except Exception:  # pragma: no cover
        log.debug("metric not recorded", exc_info=True)


def record_send(channel: str, outcome: str, seconds: float) -> None:
    try:
        SEND_SECONDS.labels(channel=channel, outcome=outcome).observe(seconds)
    except Exception:  # pragma: no cover
        log.debug("metric not recorded", exc_info=True)


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_PORT_ENV = "LAPOR_WORKER_METRICS_PORT"
WORKER_ADDR_ENV = "LAPOR_WORKER_METRICS_ADDR"


def prepare_multiprocess_dir(environ: MutableMapping[str, str] | None = None) -> str:
    """Make ``PROMETHEUS_MULTIPROC_DIR`` ready for a fresh start of the web server and return it.

    A directory the deployer named is created if missing and emptied of prometheus-client's
    files (``*.db``; nothing else is touched); when none is named, a new temporary one is made.
    Files left by the previous start would otherwise be summed into the new counters.
    """
    env = os.environ if environ is None else environ
    directory = env.get(MULTIPROC_ENV)
    if directory:
        os.makedirs(directory, exist_ok=True)
        for leftover in glob.glob(os.path.join(directory, "*.db")):
            os.remove(leftover)
    else:
        directory = tempfile.mkdtemp(prefix="lapor-metrics-")
    env[MULTIPROC_ENV] = directory
    return directory


def mark_process_dead(pid: int) -> None:
    """A gunicorn worker exited: its live gauges stop counting (its counters stay summed)."""
    if os.environ.get(MULTIPROC_ENV):
        try:
            multiprocess.mark_process_dead(pid)
        except Exception:  # pragma: no cover - never let a metrics file stop gunicorn
            log.debug("metrics of a dead worker not marked", exc_info=True)


def serve_worker_metrics(env: MutableMapping[str, str] | Any) -> Any:
    """Serve this job worker's counters at ``/metrics`` on ``LAPOR_WORKER_METRICS_PORT`` (bound to
    ``LAPOR_WORKER_METRICS_ADDR``, 127.0.0.1 unless set; port 0 picks a free one). Returns the
    server (``server_address``, ``shutdown()``), None when no port is set."""
    given = str(env.get(WORKER_PORT_ENV) or "").strip()
    if not given:
        return None
    addr = str(env.get(WORKER_ADDR_ENV) or "127.0.0.1")
    server, _thread = start_http_server(int(given), addr=addr, registry=REGISTRY)
    log.info("worker metrics served", extra={"port": server.server_address[1], "addr": addr})
    return server


class StateCollector(Collector):
    """Gauges read at scrape time from Redis and the database."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from gateway.messages import sms_budget
        from gateway.store.models import Job, Message, Ticket

        up = GaugeMetricFamily("lapor_dependency_up", "1 when the dependency answers", labels=["dependency"])
        depth = GaugeMetricFamily("lapor_queue_depth", "Jobs waiting in Redis")
        queue = self.runtime.queue
        if queue is not None:
            try:
                depth.add_metric([], queue.depth())
                up.add_metric(["redis"], 1)
            except Exception:
                up.add_metric(["redis"], 0)
        yield depth
        tickets = GaugeMetricFamily("lapor_tickets", "Tickets by status", labels=["status"])
        overdue = GaugeMetricFamily("lapor_tickets_overdue", "Open tickets past their deadline")
        jobs = GaugeMetricFamily("lapor_jobs", "Outbox jobs by status", labels=["status"])
        failed = GaugeMetricFamily("lapor_messages_failed", "Outbound messages whose delivery failed")
        segments = GaugeMetricFamily(
            "lapor_sms_segments",
            "SMS segments sent this month (what the city pays for)",
            labels=["channel", "month"],
        )
        cap = GaugeMetricFamily("lapor_sms_segment_cap", "SMS_MONTHLY_SEGMENT_CAP (absent: no cap)")
        held = GaugeMetricFamily("lapor_messages_held", "Outbound messages held by the SMS budget")
        try:
            with self.runtime.db.session() as session:
                for status, n in session.execute(
                    select(Ticket.status, func.count(Ticket.id)).group_by(Ticket.status)
                ):
                    tickets.add_metric([status], n)
                overdue.add_metric(
                    [], session.scalar(select(func.count(Ticket.id)).where(Ticket.overdue.is_(True))) or 0
                )
                for status, n in session.execute(select(Job.status, func.count(Job.id)).group_by(Job.status)):
                    jobs.add_metric([status], n)
                failed.add_metric(
                    [],
                    session.scalar(
                        select(func.count(Message.id)).where(
                            Message.direction == "out", Message.delivery_status == "failed"
                        )
                    )
                    or 0,
                )
                spent = sms_budget.budget(self.runtime, session)
                for channel in sorted(set(spent.by_channel) | {"sms"}):
                    segments.add_metric([channel, spent.month], spent.by_channel.get(channel, 0))
                if spent.cap is not None:
                    cap.add_metric([], spent.cap)
                held.add_metric([], spent.held)
            up.add_metric(["database"], 1)
        except Exception:
            up.add_metric(["database"], 0)
        yield from (tickets, overdue, jobs, failed, segments, cap, held, up)


def _event_registry() -> CollectorRegistry:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@metrics_bp.get("/metrics")
def metrics() -> Response:
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(current_app.extensions["lapor"]))
    body = generate_latest(_event_registry()) + generate_latest(state)
    return Response(body, content_type=CONTENT_TYPE_LATEST)
