"""The web process's access log: query strings masked like the application's logs, addresses kept.

Vonage's GET webhooks put the citizen's number (``msisdn``) and message (``text``) in the
query string, and ``/api/v1/messages?contact=`` the number being looked up; gunicorn wrote
them to its access log as they came. One masking function (`gateway.ops.logging_setup.mask`)
serves the JSON logs and the access log alike.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from gateway.ops.logging_setup import mask

VONAGE_GET = (
    "/webhooks/sms?msisdn=6281234567890&to=1708&messageId=0A0000001234567B&text=Jalan+rusak+depan"
    "+rumah+Bu+Siti&type=text&keyword=JALAN&message-timestamp=2026-12-02+06%3A30%3A00"
)
ROOT = Path(__file__).resolve().parents[2]


def test_mask_keeps_ip_addresses_and_hides_phone_numbers() -> None:
    line = "client 192.168.100.200 via 10.0.0.1 wrote from +6281234567890 and 0812-3456-7890"
    masked = mask(line)
    assert "192.168.100.200" in masked and "10.0.0.1" in masked
    assert "6281234567890" not in masked and "0812-3456-7890" not in masked


def test_mask_hides_personal_query_parameters() -> None:
    masked = mask("GET " + VONAGE_GET + " HTTP/1.1")
    assert "6281234567890" not in masked
    assert "Bu+Siti" not in masked and "Jalan+rusak" not in masked
    assert "messageId=0A0000001234567B" in masked  # the provider's id stays, for tracing
    looked_up = mask("/api/v1/messages?contact=tel%3A%2B6281234567890&limit=5")
    assert "6281234567890" not in looked_up and "limit=5" in looked_up
    encoded = mask("/api/v1/messages?before=10&x=%2B6281234567890")
    assert "6281234567890" not in encoded
    verify = mask(
        "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=meta-verify&hub.challenge=1158201444"
    )
    assert "meta-verify" not in verify and "hub.mode=subscribe" in verify


class _Response:
    status = "200 OK"
    sent = 17
    headers = [("Content-Type", "application/json")]


def test_gunicorn_access_lines_are_masked_by_the_logger_class() -> None:
    """gunicorn's own `access()` with its default format, through our logger class."""
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("logger_class", "gateway.ops.access_log.MaskedAccessLogger")
    logger = cfg.logger_class(cfg)
    lines: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger.access_log.addHandler(_Keep())
    path, _, query = VONAGE_GET.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": VONAGE_GET,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.45",
        "HTTP_REFERER": "https://gateway.example.id/inbox/tickets?q=081234567890",
        "HTTP_USER_AGENT": "Vonage/1.0",
    }
    logger.access(_Response(), [("User-Agent", "Vonage/1.0")], environ, timedelta(milliseconds=12))
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("203.0.113.45 - - [")
    assert "6281234567890" not in line and "081234567890" not in line and "Bu+Siti" not in line
    assert '"GET /webhooks/sms?msisdn=***' in line and " 200 17 " in line


def test_gunicorn_access_lines_are_json_with_the_request_id() -> None:
    """The logger class `lapor-gateway web` uses: one JSON object per line, masked, with the
    request id the app answered (X-Request-ID)."""
    from gunicorn.config import Config

    from gateway.ops.logging_setup import JsonFormatter

    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("logger_class", "gateway.ops.access_log.JsonGunicornLogger")
    logger = cfg.logger_class(cfg)
    lines: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    logger.access_log.addHandler(_Keep())

    class _Answered(_Response):
        headers = [("Content-Type", "text/plain"), ("X-Request-ID", "ack-7")]

    path, _, query = VONAGE_GET.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": VONAGE_GET,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.45",
    }
    logger.access(_Answered(), [], environ, timedelta(milliseconds=12))
    (line,) = lines
    record = json.loads(line)
    assert record["request_id"] == "ack-7" and record["status"] == 200 and record["remote"] == "203.0.113.45"
    assert record["method"] == "GET" and record["path"] == "/webhooks/sms" and record["duration_ms"] == 12.0
    assert "6281234567890" not in line and "Bu+Siti" not in line and "msisdn=***" in record["query"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_lapor_gateway_web_serves_with_a_masked_access_log(settings: Any, tmp_path: Path) -> None:
    """The real gunicorn, started with the arguments `lapor-gateway web` execs."""
    from gateway.cli import gunicorn_args

    port = _free_port()
    args = gunicorn_args("127.0.0.1", port, 1)
    assert args[:3] == [sys.executable, "-m", "gunicorn"]
    log = tmp_path / "access.log"
    env = {**os.environ, **settings.env}
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while True:
                try:
                    requests.get(base + "/healthz", timeout=10)
                    break
                except requests.RequestException:
                    assert time.time() < deadline and proc.poll() is None, log.read_text()
                    time.sleep(0.2)
            requests.get(base + VONAGE_GET, timeout=30)
            requests.get(base + "/api/v1/messages?contact=tel%3A%2B6281234567890", timeout=30)
            time.sleep(1)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    text = log.read_text()
    assert "GET /webhooks/sms?msisdn=***" in text, text
    assert "GET /api/v1/messages?contact=***" in text, text
    assert "6281234567890" not in text and "Bu+Siti" not in text
    access = [json.loads(line) for line in text.splitlines() if '"access": true' in line]
    assert access and all(r["remote"] == "127.0.0.1" for r in access)  # an address, not a phone number
