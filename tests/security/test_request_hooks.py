"""The app-wide request hooks, after they were made cheap for webhooks.

Webhooks skip the browser machinery (cookie session, login throttle) but keep everything
else: security headers, the NUL check on query parameters, JSON errors.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from adapters.sms import SmsAdapter

SENDER = "tel:+6281234500088"


def _post_sms(client: Any, settings: Any, message_id: str, query: str = "") -> Any:
    req = SmsAdapter.from_env(settings.env).simulate(SENDER, "Sampah menumpuk", message_id=message_id)
    path = req.path + (("&" if "?" in req.path else "?") + query if query else "")
    return client.open(path, method=req.method, headers=dict(req.headers), data=req.body)


def test_a_webhook_answer_has_every_security_header_once(client: Any, settings: Any) -> None:
    res = _post_sms(client, settings, "hooks-1")
    assert res.status_code == 200
    for name, expected in (
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ):
        assert res.headers.getlist(name) == [expected]
    assert len(res.headers.getlist("Content-Security-Policy")) == 1
    assert "Strict-Transport-Security" not in res.headers  # plain http deployment
    assert "Set-Cookie" not in res.headers
    assert "Cookie" not in res.headers.get("Vary", "")


def test_a_header_set_by_the_view_is_kept(app: Any) -> None:
    @app.get("/_framed")
    def framed() -> Any:
        return "ok", 200, {"X-Frame-Options": "SAMEORIGIN", "x-content-type-options": "custom"}

    res = app.test_client().get("/_framed")
    assert res.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert res.headers.getlist("X-Content-Type-Options") == ["custom"]
    assert res.headers["Referrer-Policy"] == "same-origin"


def test_hsts_behind_https(settings: Any) -> None:
    from gateway.app import create_app
    from gateway.runtime import Runtime

    runtime = Runtime(replace(settings, public_base_url="https://lapor.example.go.id"))
    try:
        res = create_app(runtime=runtime).test_client().get("/healthz")
        assert res.headers.getlist("Strict-Transport-Security") == ["max-age=31536000; includeSubDomains"]
    finally:
        runtime.close()


@pytest.mark.parametrize("query", ["x=%00", "%00=1", "a=b%00c", "x=%00&y=1"])
def test_nul_in_a_query_parameter_is_refused_on_webhooks_too(client: Any, settings: Any, query: str) -> None:
    res = _post_sms(client, settings, "hooks-nul", query=query)
    assert res.status_code == 400
    assert res.get_json()["error"]["code"] == "bad_request"


def test_an_ordinary_query_string_passes(client: Any) -> None:
    assert client.get("/healthz?probe=1&x=%20").status_code == 200


def test_a_browser_session_still_works_outside_webhooks(client: Any) -> None:
    from flask import session

    app = client.application

    @app.get("/_session_probe")
    def probe() -> Any:
        session["seen"] = session.get("seen", 0) + 1
        return {"seen": session["seen"]}

    assert client.get("/_session_probe").get_json() == {"seen": 1}
    assert client.get("/_session_probe").get_json() == {"seen": 2}
