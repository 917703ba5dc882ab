"""An Open311 GeoReport v2 endpoint standing in for an agency's own complaint system.

Answers ``POST .../requests.json`` (form-encoded: api_key, service_code,
description, lat/long or address_string, media_url) with
``[{"service_request_id": ...}]`` as the GeoReport v2 spec describes, and
``GET .../services.json``. Requests repeating an ``Idempotency-Key`` it has
already accepted get the same id back and create nothing, as a careful receiver
would; ``created`` holds what it actually stored, so tests can count deliveries.
"""

from __future__ import annotations

import threading
from typing import Any

from gateway.devtools.loopback.server import LoopbackProvider, RecordedRequest, Reply


class Open311StandIn(LoopbackProvider):
    """A GeoReport v2 server under ``/open311/v2``."""

    def __init__(
        self, api_key: str = "open311-test-key", services: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.services = services or [
            {"service_code": "001", "service_name": "Jalan rusak", "type": "realtime", "metadata": False},
        ]
        self.created: dict[str, dict[str, str]] = {}  # service_request_id -> form
        self._by_key: dict[str, str] = {}
        self._store_lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/open311/v2/requests.json"

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path.endswith("/services.json"):
            return Reply(200, self.services)
        if request.method != "POST" or not request.path.endswith("/requests.json"):
            return Reply(404, [{"code": 404, "description": "not found"}])
        form = request.form()
        if form.get("api_key") != self.api_key:
            return Reply(403, [{"code": 403, "description": "Invalid api_key"}])
        if not form.get("service_code"):
            return Reply(400, [{"code": 400, "description": "service_code was not provided"}])
        has_point = bool(form.get("lat") and form.get("long"))
        if not (has_point or form.get("address_string") or form.get("address_id")):
            return Reply(400, [{"code": 400, "description": "a location (lat/long or address) is required"}])
        key = request.headers.get("idempotency-key")
        with self._store_lock:
            if key and key in self._by_key:
                return Reply(
                    200, [{"service_request_id": self._by_key[key], "service_notice": "already received"}]
                )
            request_id = f"SR-{len(self.created) + 1:05d}"
            self.created[request_id] = form
            if key:
                self._by_key[key] = request_id
        return Reply(
            201, [{"service_request_id": request_id, "service_notice": "diterima", "account_id": None}]
        )
