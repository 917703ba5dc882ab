"""Signatures, proxies, cookies, headers, the job serializer and masked logs."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import pytest
from rq.serializers import JSONSerializer

from gateway.ops.logging_setup import JsonFormatter, mask


@pytest.mark.parametrize(
    "channel,missing",
    [
        ("telegram", "TELEGRAM_WEBHOOK_SECRET"),
        ("whatsapp", "WHATSAPP_APP_SECRET"),
        ("sms", "SMS_SIGNATURE_SECRET"),
    ],
)
def test_webhook_is_refused_when_its_secret_is_missing(settings: Any, channel: str, missing: str) -> None:
    from gateway.app import create_app
    from gateway.runtime import Runtime

    env = {k: v for k, v in settings.env.items() if k != missing}
    runtime = Runtime(replace(settings, env=env))
    try:
        res = (
            create_app(runtime=runtime)
            .test_client()
            .post(f"/webhooks/{channel}", data=b"{}", content_type="application/json")
        )
        assert res.status_code in (403, 404)  # refused or off, never accepted unsigned
    finally:
        runtime.close()


def test_wrong_signature_is_refused(client: Any) -> None:
    res = client.post(
        "/webhooks/whatsapp",
        data=b'{"object": "whatsapp_business_account", "entry": []}',
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64, "Content-Type": "application/json"},
    )
    assert res.status_code == 403


def test_security_headers(client: Any) -> None:
    res = client.get("/healthz")
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["X-Frame-Options"] == "DENY"
    assert "script-src" not in res.headers["Content-Security-Policy"]  # default-src 'self' governs
    assert "default-src 'self'" in res.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in res.headers["Content-Security-Policy"]


def test_cookies_secure_httponly_samesite_behind_https(settings: Any) -> None:
    from gateway.app import create_app
    from gateway.runtime import Runtime

    runtime = Runtime(replace(settings, public_base_url="https://lapor.example.go.id"))
    try:
        app = create_app(runtime=runtime)
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["SESSION_COOKIE_HTTPONLY"] is True
        assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
        res = app.test_client().get("/healthz")
        assert res.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        runtime.close()


@pytest.mark.parametrize("proxy_count,expected", [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_proxy_fix_follows_the_setting(settings: Any, proxy_count: int, expected: str) -> None:
    from flask import request

    from gateway.app import create_app
    from gateway.runtime import Runtime

    runtime = Runtime(replace(settings, proxy_count=proxy_count))
    try:
        app = create_app(runtime=runtime)
        seen: dict[str, str] = {}

        @app.get("/_probe")
        def _probe() -> str:
            seen["addr"] = request.remote_addr or ""
            seen["scheme"] = request.scheme
            return "ok"

        app.test_client().get(
            "/_probe", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        )
        assert seen["addr"] == expected
        assert seen["scheme"] == ("https" if proxy_count else "http")
    finally:
        runtime.close()


def test_jobs_travel_as_json(runtime: Any) -> None:
    assert runtime.queue.queue.serializer is JSONSerializer or isinstance(
        runtime.queue.queue.serializer, type(JSONSerializer)
    )
    runtime.queue.push_many([424242])
    from rq.job import Job as RqJob

    job = RqJob.fetch("lapor-job-424242", connection=runtime.queue.redis, serializer=JSONSerializer)
    assert job.args == [424242] or job.args == (424242,)
    # A pickle payload would not load with the JSON serializer: the stored data is JSON.
    assert json.loads(JSONSerializer.dumps((job.func_name, None, list(job.args), {})))


def test_logs_are_json_with_phones_and_tokens_masked() -> None:
    record = logging.makeLogRecord(
        {
            "name": "t",
            "levelname": "INFO",
            "msg": "reply to +6281234567890 via whatsapp:+6281234567890 with Bearer abc.def-123",
            "sender": "tel:+6281234567890",
        }
    )
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert "6281234567890" not in line
    assert "abc.def-123" not in line
    assert data["sender"] == "tel:***"
    assert "081234567890" not in mask("nomor saya 0812-3456-7890")
