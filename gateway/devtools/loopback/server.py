"""A small threaded HTTP server that records requests and answers like a provider.

Each provider stand-in subclasses `LoopbackProvider` and implements ``handle``.
Tests can queue failures (``fail_next``) to see how the gateway copes with 429,
5xx and timeouts, and read ``requests`` to see what was sent. Stand-ins that post
delivery receipts back to the gateway do it with ``post_later``: from a daemon
thread, after a delay, never holding up their answer to the send.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import requests

log = logging.getLogger(__name__)


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


@dataclass
class Callback:
    """One webhook a stand-in posts back, as the provider would (a delivery receipt)."""

    url: str
    body: bytes
    headers: dict[str, str]
    delay: float = 0.0  # seconds to wait before posting, counted from the previous callback
    label: str = ""  # what it is, for callback_errors ("delivered", ...)


class LoopbackProvider:
    """Base stand-in: start(), stop(), base_url, requests, fail_next()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0) -> None:
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._queued: list[Reply] = []
        self._host = host
        self._server = ThreadingHTTPServer((host, port), self._make_handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        # Callbacks posted (label, HTTP status) and the ones that failed ("label: reason").
        self.callbacks_posted: list[tuple[str, int]] = []
        self.callback_errors: list[str] = []

    # -- lifecycle ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> Self:
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
            self.callbacks_posted.clear()
            self.callback_errors.clear()

    def wait_for(self, count: int, timeout: float = 10.0, path_contains: str = "") -> list[RecordedRequest]:
        """Wait until ``count`` matching requests arrived; return them (may be fewer on timeout)."""
        deadline = time.time() + timeout
        while True:
            with self._lock:
                found = [r for r in self.requests if path_contains in r.path]
            if len(found) >= count or time.time() >= deadline:
                return found
            time.sleep(0.02)

    # -- callbacks to the gateway ------------------------------------------------------
    def post_later(self, callbacks: list[Callback]) -> None:
        """Post ``callbacks`` in order from a daemon thread, each after its delay.

        Returns at once, so the answer to the send that caused them is never held
        up. A failed post (the gateway is down, or answers 4xx/5xx) is logged at
        DEBUG, kept in ``callback_errors`` and dropped: no retries, it is a stand-in.
        """
        if callbacks:
            threading.Thread(
                target=self._post_callbacks, args=(list(callbacks),), name="loopback-callbacks", daemon=True
            ).start()

    def _post_callbacks(self, callbacks: list[Callback]) -> None:
        for callback in callbacks:
            if callback.delay > 0:
                time.sleep(callback.delay)
            try:
                response = requests.post(
                    callback.url, data=callback.body, headers=callback.headers, timeout=5
                )
            except requests.RequestException as exc:
                self._callback_failed(callback, type(exc).__name__)
                continue
            with self._lock:
                self.callbacks_posted.append((callback.label, response.status_code))
            if response.status_code >= 400:
                self._callback_failed(callback, f"HTTP {response.status_code}")

    def _callback_failed(self, callback: Callback, reason: str) -> None:
        log.debug(
            "loopback callback dropped",
            extra={"url": callback.url, "label": callback.label, "reason": reason},
        )
        with self._lock:
            self.callback_errors.append(f"{callback.label}: {reason}")

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
