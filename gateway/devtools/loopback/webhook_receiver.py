"""An agency's JSON webhook receiver: checks X-Lapor-Signature and keeps each delivery once.

Verifies the HMAC-SHA256 signature over the raw body (``sha256=<hex>``) with the
shared secret and answers 401 when it does not match, as a receiver should.
Deliveries are keyed by their ``Idempotency-Key``: a repeat is answered 200 and
not stored again, so ``delivered`` counts what the agency really got.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from typing import Any

from gateway.devtools.loopback.server import LoopbackProvider, RecordedRequest, Reply


class WebhookReceiver(LoopbackProvider):
    """Receives POSTs on ``/lapor``."""

    def __init__(self, secret: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret = secret
        self.delivered: dict[str, dict[str, Any]] = {}  # idempotency key -> document
        self.duplicates = 0
        self._store_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self.base_url}/lapor"

    def expected_signature(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode("utf-8"), body, hashlib.sha256).hexdigest()

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or request.path != "/lapor":
            return Reply(404, {"error": "not found"})
        signature = request.headers.get("x-lapor-signature", "")
        if not hmac.compare_digest(signature, self.expected_signature(request.body)):
            return Reply(401, {"error": "bad signature"})
        try:
            document = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return Reply(400, {"error": "body is not JSON"})
        key = request.headers.get("idempotency-key") or str(document.get("idempotency_key") or "")
        if not key:
            return Reply(400, {"error": "Idempotency-Key missing"})
        with self._store_lock:
            if key in self.delivered:
                self.duplicates += 1
                return Reply(200, {"id": key, "duplicate": True})
            self.delivered[key] = document
        return Reply(202, {"id": key, "duplicate": False})
