"""A small threaded HTTP server that records requests and answers like a provider.

Each provider stand-in subclasses `LoopbackProvider` and implements ``handle``.
Tests can queue failures (``fail_next``) to see how the gateway copes with 429,
5xx and timeouts, and read ``requests`` to see what was sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class RecordedRequest:
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def form_list(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)


@dataclass
class Reply:
    """What the stand-in answers: status, body (dict/list -> JSON, str/bytes as is), headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow or timing-out provider)


class LoopbackProvider:
    """Base stand-in: start(), stop(), base_url, requests, fail_next()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0) -> None:
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._queued: list[Reply] = []
        self._server = ThreadingHTTPServer((host, port), self._make_handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackProvider:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -------------------------------------------------------------
    def fail_next(self, *replies: Reply) -> None:
        """Answer the next requests with these replies instead of the normal one."""
        with self._lock:
            self._queued.extend(replies)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queued.clear()

    def wait_for(self, count: int, timeout: float = 10.0, path_contains: str = "") -> list[RecordedRequest]:
        """Wait until ``count`` matching requests arrived; return them (may be fewer on timeout)."""
        deadline = time.time() + timeout
        while True:
            with self._lock:
                found = [r for r in self.requests if path_contains in r.path]
            if len(found) >= count or time.time() >= deadline:
                return found
            time.sleep(0.02)

    # -- to implement ----------------------------------------------------------------
    def handle(self, request: RecordedRequest) -> Reply:
        """Answer one request as the provider would."""
        return Reply(404, {"error": "not found"})

    # -- plumbing ------------------------------------------------------------------
    def _dispatch(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            queued = self._queued.pop(0) if self._queued else None
        return queued if queued is not None else self.handle(request)

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; with Nagle's algorithm on, the body waited
            # for the client's delayed ACK (40 ms on Linux) on every kept-alive connection.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = provider._dispatch(request)
                wait = max(reply.delay, provider.delay)
                if wait:
                    time.sleep(wait)
                payload = reply.body
                headers = dict(reply.headers)
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode("utf-8")
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(payload, str):
                    data = payload.encode("utf-8")
                    headers.setdefault("Content-Type", "text/plain; charset=utf-8")
                elif payload is None:
                    data = b""
                else:
                    data = payload
                try:
                    self.send_response(reply.status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: tests read `requests` instead

        return Handler
