"""Bad and hostile input at the webhooks: never a 500, nothing unsafe stored, floods throttled politely."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from adapters.sms import SmsAdapter
from gateway.store.models import Message
from tests.helpers import drain_jobs

TELEGRAM_SECRET = "telegram-secret"
META_SECRET = "meta-app-secret"


def _telegram(client: Any, body: bytes, content_type: str = "application/json") -> Any:
    return client.post(
        "/webhooks/telegram",
        data=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": content_type},
    )


def _whatsapp(client: Any, body: bytes) -> Any:
    sig = "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        "/webhooks/whatsapp",
        data=body,
        headers={"X-Hub-Signature-256": sig, "Content-Type": "application/json"},
    )


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


HOSTILE_BODIES = {
    "empty": b"",
    "not-json": b"hello there",
    "invalid-utf8": b'{"update_id": 1, "message": {"text": "\xff\xfe\xfa"}}',
    "truncated": b'{"update_id": 1, "message": {"text": "a',
    "array": b"[1, 2, 3]",
    "deep-json": _deep(100_000),
    "deep-object": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "wrong-types": json.dumps({"update_id": "x", "message": {"chat": [], "from": 5, "text": {}}}).encode(),
    "nul-bytes": b'{"update_id": 7, "message": {"message_id": 1, "date": 0, "text": "\\u0000",'
    b' "chat": {"id": 1, "type": "private"}, "from": {"id": 1, "is_bot": false, "first_name": "\\u0000"}}}',
    "lone-surrogate": b'{"update_id": 8, "message": {"message_id": 2, "date": 0, "text": "\\ud800 x",'
    b' "chat": {"id": 2, "type": "private"}, "from": {"id": 2, "is_bot": false, "first_name": "A"}}}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_no_hostile_body_gets_a_500(client: Any, runtime: Any, name: str) -> None:
    body = HOSTILE_BODIES[name]
    for res in (_telegram(client, body), _whatsapp(client, body)):
        assert res.status_code < 500, (name, res.status_code, res.data[:300])
        if res.status_code >= 400:
            assert res.get_json()["error"]["code"]


def test_deep_json_is_refused_as_malformed(client: Any, runtime: Any) -> None:
    res = _whatsapp(client, _deep(1000))
    assert res.status_code == 400
    assert "nested" in res.get_json()["error"]["message"]


def test_body_over_the_size_limit_is_refused_with_413(runtime: Any, settings: Any) -> None:
    from gateway.app import create_app
    from gateway.runtime import Runtime

    small = Runtime(replace(settings, max_body_bytes=10_000))
    try:
        res = _whatsapp(create_app(runtime=small).test_client(), b'{"x": "' + b"a" * 20_000 + b'"}')
        assert res.status_code == 413
        assert res.get_json()["error"]["code"]
    finally:
        small.close()


NASTY_TEXT = '=HYPERLINK("http://evil.example","klik")\x00 <script>alert(1)</script>\x07 +1-2 @SUM(A1)'


def test_nasty_text_is_stored_safely(client: Any, runtime: Any, drain: Any) -> None:
    adapter = SmsAdapter.from_env(runtime.settings.env)
    req = adapter.simulate("081233334444", NASTY_TEXT, message_id="nasty-1")
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200
    with runtime.db.session() as session:
        row = session.scalars(select(Message).where(Message.direction == "in")).one()
        assert "\x00" not in row.text and "\x07" not in row.text
        assert "<script>alert(1)</script>" in row.text  # kept as typed, escaped where shown
        assert "\x00" not in json.dumps(row.raw)
    drain()  # the conversation handles it like any other text


def test_nul_and_surrogates_from_telegram_are_stored(client: Any, runtime: Any) -> None:
    for name in ("nul-bytes", "lone-surrogate"):
        assert _telegram(client, HOSTILE_BODIES[name]).status_code == 200, name
    with runtime.db.session() as session:
        rows = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert len(rows) == 2
        for row in rows:
            assert "\x00" not in row.text
            row.text.encode("utf-8")  # storable and printable everywhere
            json.dumps(row.raw).encode("utf-8")


def test_script_in_text_is_rendered_escaped_by_the_templates(app: Any) -> None:
    """Every HTML page goes through Jinja with autoescape on."""
    with app.test_request_context():
        from flask import render_template_string

        html = render_template_string("<p>{{ text }}</p>", text=NASTY_TEXT)
        assert "<script>" not in html and "&lt;script&gt;" in html


def test_flooding_sender_is_throttled_with_one_polite_reply_and_nothing_dropped(
    settings: Any, providers: dict[str, Any]
) -> None:
    from gateway.app import create_app
    from gateway.runtime import Runtime

    runtime = Runtime(replace(settings, sender_rate_per_minute=5))
    try:
        client = create_app(runtime=runtime).test_client()
        adapter = SmsAdapter.from_env(settings.env)
        for i in range(12):
            req = adapter.simulate(
                "081255556666", f"pesan ke-{i} tentang jalan rusak", message_id=f"flood-{i}"
            )
            res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
            assert res.status_code == 200
        with runtime.db.session() as session:
            inbound = session.scalars(select(Message).where(Message.direction == "in")).all()
            assert len(inbound) == 12  # every message kept for operators
            throttled = [m for m in inbound if (m.raw or {}).get("throttled")]
            assert len(throttled) == 7
            polite = session.scalars(select(Message).where(Message.author == "system")).all()
            assert len(polite) == 1
            assert "simpan" in polite[0].text
        drain_jobs(runtime)
        sends = [r for r in providers["sms"].requests if r.path == "/sms/json"]
        texts = [r.form()["text"] for r in sends]
        assert sum("simpan" in t for t in texts) == 1
    finally:
        runtime.close()
