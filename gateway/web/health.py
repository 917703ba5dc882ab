"""Liveness and readiness: is the process up, and can it serve what it is for.

Ready means the database answers AND is migrated to head: a gateway on an older
schema acknowledges nothing (every webhook would answer 503), so a load balancer
must not send it traffic. Redis down is *degraded*, not unready: webhooks still
store and acknowledge messages, and the reconciler enqueues their jobs once Redis is
back. It shows in the body here and as ``lapor_dependency_up{dependency="redis"} 0``
in /metrics.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from gateway.store.db import StorageUnavailable
from gateway.store.migrate import current_revisions, head_revisions

health_bp = Blueprint("health", __name__)


@health_bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


@health_bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    runtime = current_app.extensions["lapor"]
    checks: dict[str, str] = {}
    try:
        current = current_revisions(runtime.db)
        head = head_revisions()
        if current == head:
            checks["database"] = "ok"
        else:
            at = ", ".join(sorted(current)) or "empty"
            checks["database"] = (
                f"not migrated: at {at}, head is {', '.join(sorted(head))} (run `lapor-gateway db upgrade`)"
            )
    except StorageUnavailable as exc:
        checks["database"] = f"unavailable: {_first_line(exc)}"
    if runtime.queue is None:
        checks["redis"] = "not configured"
    else:
        try:
            runtime.queue.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"degraded: {_first_line(exc)}"
    ready = checks["database"] == "ok"
    failing = [name for name, value in checks.items() if value not in ("ok", "not configured")]
    status = "unavailable" if not ready else ("degraded" if failing else "ready")
    return jsonify(status=status, checks=checks, failing=failing), (200 if ready else 503)
