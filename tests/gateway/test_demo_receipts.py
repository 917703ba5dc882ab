"""Demo receipts end to end: a reply goes out through the real worker path to a stand-in, which
posts its signed delivery receipts to the real app over HTTP, as `lapor-gateway run` sets it up.

The app runs in a werkzeug server on a free port (PUBLIC_BASE_URL points at it, so Twilio's
signature covers the right URL). A receipt with a bad signature is answered 403 and changes
nothing, so a reply that reaches "delivered" (or "read") proves the receipts were accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from redis import Redis
from sqlalchemy import select
from werkzeug.serving import make_server

from adapters import adapter_class
from config.settings import Settings, load_settings
from gateway.devtools.loopback.meta import MetaStandIn
from gateway.devtools.loopback.sms import SmsStandIn
from gateway.devtools.loopback.twilio import TwilioStandIn
from gateway.store.models import Message
from tests.conftest import _truncate, channel_env

DELAY = 0.05  # seconds between receipts (the demo uses 0.5 and 1.5)
SMS_SECRET = "sms-signing-secret"  # what channel_env gives the gateway
APP_SECRET = "meta-app-secret"


class _Later:
    """A WSGI app set after the server is up, since the app's settings need the server's port."""

    app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@pytest.fixture
def live() -> Iterator[tuple[str, _Later]]:
    target = _Later()
    server = make_server("127.0.0.1", 0, target, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", target
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def posting(live: tuple[str, _Later]) -> Iterator[dict[str, Any]]:
    """The SMS, Twilio and Meta stand-ins with receipts on, posting to the live app."""
    url, _ = live
    started: dict[str, Any] = {
        "sms": SmsStandIn(
            api_key="test-key",
            api_secret="test-secret",
            delivery_receipts=True,
            signature_secret=SMS_SECRET,
            receipt_delay=DELAY,
        ).start(),
        "twilio": TwilioStandIn(
            account_sid="AC" + "1" * 32,
            auth_token="twilio-test-token",
            status_callbacks=True,
            receipt_delay=DELAY,
        ).start(),
        "whatsapp": MetaStandIn(
            access_token="meta-test-token",
            phone_number_id="106540352242922",
            webhook_url=url + "/webhooks/whatsapp",
            app_secret=APP_SECRET,
            receipt_delay=DELAY,
            read_delay=DELAY,
        ).start(),
    }
    yield started
    for stand_in in started.values():
        stand_in.stop()


@pytest.fixture
def sms_profile() -> str:
    return "vonage"


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    providers: dict[str, Any],
    posting: dict[str, Any],
    live: tuple[str, _Later],
    sms_profile: str,
) -> Settings:
    """The conftest's settings, but the channels with receipts point at `posting`."""
    _truncate(database_url)
    Redis.from_url(redis_url).flushdb()
    env = {
        "LAPOR_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_BASE_URL": live[0],
        **channel_env({**providers, **posting}),
        "SMS_PROFILE": sms_profile,
    }
    assert env["SMS_SIGNATURE_SECRET"] == SMS_SECRET and env["WHATSAPP_APP_SECRET"] == APP_SECRET
    return load_settings(env, testing=True)


@pytest.fixture
def served(app: Any, live: tuple[str, _Later]) -> str:
    live[1].app = app
    return live[0]


def _reply_statuses(runtime: Any) -> list[tuple[str, str | None]]:
    with runtime.db.session(write=False) as session:
        rows = session.scalars(select(Message).where(Message.direction == "out").order_by(Message.id))
        return [(m.delivery_status, m.provider_message_id) for m in rows]


def _wait_for_status(runtime: Any, wanted: str, timeout: float = 10.0) -> list[tuple[str, str | None]]:
    deadline = time.monotonic() + timeout
    while True:
        found = _reply_statuses(runtime)
        if (found and all(status == wanted for status, _ in found)) or time.monotonic() >= deadline:
            return found
        time.sleep(0.02)


# channel, citizen, SMS dialect, the reply's last status, receipts per reply (0: one per SMS part)
CASES = [
    ("sms", "081234567001", "vonage", "delivered", 0),
    ("sms", "081234567002", "infobip", "delivered", 1),
    ("twilio", "+6281234567003", "vonage", "delivered", 2),
    ("twilio", "whatsapp:+6281234567004", "vonage", "delivered", 2),
    ("whatsapp", "+6281234567005", "vonage", "read", 3),
]


@pytest.mark.parametrize(
    ("channel", "sender", "sms_profile", "final", "receipts"),
    CASES,
    ids=["sms-vonage", "sms-infobip", "twilio-sms", "twilio-whatsapp", "whatsapp-cloud"],
)
def test_reply_reaches_its_final_status_through_signed_receipts(
    served: str,
    runtime: Any,
    drain: Any,
    posting: dict[str, Any],
    channel: str,
    sender: str,
    final: str,
    receipts: int,
) -> None:
    adapter = adapter_class(channel).from_env(runtime.settings.env)
    req = adapter.simulate(sender, "Jalan berlubang besar di depan SDN 3 Sukamaju")
    answer = requests.post(served + req.path, data=req.body, headers=dict(req.headers), timeout=5)
    assert answer.status_code == 200, answer.text
    drain()  # the real worker path: process the message, send the reply to the stand-in

    found = _wait_for_status(runtime, final)
    assert found and all(status == final for status, _ in found), found
    stand_in = posting[channel]
    expected = receipts * len(found) or sum(len(sent["ids"]) for sent in stand_in.sent)
    deadline = time.monotonic() + 5  # the status is committed just before the answer leaves the app
    while len(stand_in.callbacks_posted) < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stand_in.callback_errors == []
    assert len(stand_in.callbacks_posted) == expected
    assert all(code < 300 for _, code in stand_in.callbacks_posted), stand_in.callbacks_posted


def test_receipts_with_a_wrong_signature_are_refused_and_change_nothing(
    served: str, runtime: Any, drain: Any, posting: dict[str, Any]
) -> None:
    meta = posting["whatsapp"]
    meta.app_secret = "not-the-app-secret"
    adapter = adapter_class("whatsapp").from_env(runtime.settings.env)
    req = adapter.simulate("+6281234567006", "Sampah menumpuk di pasar")
    assert requests.post(served + req.path, data=req.body, headers=dict(req.headers), timeout=5).ok
    drain()
    deadline = time.monotonic() + 10
    while len(meta.callback_errors) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert meta.callback_errors == ["sent: HTTP 403", "delivered: HTTP 403", "read: HTTP 403"]
    assert {status for status, _ in _reply_statuses(runtime)} == {"sent"}
