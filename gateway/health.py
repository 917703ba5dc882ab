"""Liveness and readiness: is the process up, and can it reach its database and Redis."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from gateway.db import StorageUnavailable

health_bp = Blueprint("health", __name__)


@health_bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@health_bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    runtime = current_app.extensions["lapor"]
    checks: dict[str, str] = {}
    try:
        runtime.db.ping()
        checks["database"] = "ok"
    except StorageUnavailable as exc:
        checks["database"] = f"unavailable: {str(exc).splitlines()[0][:200]}"
    if runtime.queue is None:
        checks["redis"] = "not configured"
    else:
        try:
            runtime.queue.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable: {str(exc)[:200]}"
    ready = checks["database"] == "ok" and checks["redis"] in ("ok", "not configured")
    failing = [name for name, value in checks.items() if value.startswith("unavailable")]
    return jsonify(status="ready" if ready else "unavailable", checks=checks, failing=failing), (
        200 if ready else 503
    )
