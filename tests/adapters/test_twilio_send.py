"""Twilio sends and media downloads through the real twilio Client against TwilioStandIn."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from adapters.base import Attachment, OutboundMessage, SendError, Template, WebhookRequest
from adapters.twilio import TwilioAdapter
from gateway.devtools.loopback.server import LoopbackProvider, Reply
from gateway.devtools.loopback.twilio import PNG_PIXEL, TwilioStandIn

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-test-token"


@pytest.fixture(scope="module")
def shared_standin() -> Iterator[TwilioStandIn]:
    # One server for the module: stopping one costs its poll interval (0.5 s).
    with TwilioStandIn(account_sid=SID, auth_token=TOKEN) as server:
        assert isinstance(server, TwilioStandIn)
        yield server


@pytest.fixture
def standin(shared_standin: TwilioStandIn) -> TwilioStandIn:
    shared_standin.clear()
    shared_standin.sent.clear()
    return shared_standin


def adapter_for(server: TwilioStandIn, **overrides: str) -> TwilioAdapter:
    env = {
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_SMS_FROM": "+15005550006",
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "TWILIO_API_BASE_URL": server.base_url,
        "PUBLIC_BASE_URL": "https://lapor.example.id",
        "TWILIO_TIMEOUT": "2",
        **overrides,
    }
    adapter = TwilioAdapter.from_env(env)
    assert adapter is not None
    return adapter


def sms(text: str = "Laporan Anda diterima. Nomor tiket #12345678", **kw: Any) -> OutboundMessage:
    return OutboundMessage(channel="twilio", to="tel:+6281234567890", text=text, **kw)


def test_send_sms(standin: TwilioStandIn) -> None:
    adapter = adapter_for(standin)
    result = adapter.send(sms())
    assert result.provider_message_id.startswith("SM")
    assert result.status == "queued"
    assert result.segments == 1
    [request] = standin.wait_for(1, path_contains="/Messages.json")
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    form = request.form()
    assert form["To"] == "+6281234567890"
    assert form["From"] == "+15005550006"
    assert form["Body"] == "Laporan Anda diterima. Nomor tiket #12345678"
    assert form["StatusCallback"] == "https://lapor.example.id/webhooks/twilio/status"
    adapter.close()


def test_send_reuses_one_client(standin: TwilioStandIn) -> None:
    adapter = adapter_for(standin)
    adapter.send(sms())
    client = adapter.client
    adapter.send(sms())
    assert adapter.client is client
    assert len(standin.sent) == 2


def test_send_whatsapp_with_media(standin: TwilioStandIn) -> None:
    adapter = adapter_for(standin)
    message = OutboundMessage(
        channel="twilio",
        to="whatsapp:+6281234567890",
        text="Bukti",
        media_url="https://lapor.example.id/m/1.jpg",
    )
    result = adapter.send(message)
    assert result.provider_message_id.startswith("MM")
    pairs = standin.requests[-1].form_list()
    form = dict(pairs)
    assert form["To"] == "whatsapp:+6281234567890"
    assert form["From"] == "whatsapp:+14155238886"
    assert [v for k, v in pairs if k == "MediaUrl"] == ["https://lapor.example.id/m/1.jpg"]


def test_send_long_text_counts_segments(standin: TwilioStandIn) -> None:
    result = adapter_for(standin).send(sms("a" * 400))
    assert result.segments == 3


def test_send_whatsapp_template_by_content_sid(standin: TwilioStandIn) -> None:
    message = OutboundMessage(
        channel="twilio",
        to="whatsapp:+6281234567890",
        text="",
        template=Template(
            name="HX0123456789abcdef0123456789abcdef", language="id", parameters=("#12345678",)
        ),
    )
    adapter_for(standin).send(message)
    form = standin.requests[-1].form()
    assert form["ContentSid"] == "HX0123456789abcdef0123456789abcdef"
    assert form["ContentVariables"] == '{"1": "#12345678"}'


ERROR_CASES: list[tuple[str, Reply, dict[str, Any]]] = [
    (
        "400 invalid number is final",
        Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
        {"retryable": False, "code": "21211", "unreachable": False},
    ),
    (
        "21610 opted out is final and unreachable",
        Reply(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}),
        {"retryable": False, "code": "21610", "unreachable": True},
    ),
    (
        "21614 not a mobile number is final",
        Reply(400, {"code": 21614, "message": "'To' number is not a valid mobile number", "status": 400}),
        {"retryable": False, "code": "21614"},
    ),
    (
        "63016 WhatsApp window closed",
        Reply(400, {"code": 63016, "message": "Failed to send freeform message", "status": 400}),
        {"retryable": False, "code": "63016", "window_closed": True},
    ),
    (
        "401 authentication is final",
        Reply(401, {"code": 20003, "message": "Authenticate", "status": 401}),
        {"retryable": False, "code": "20003"},
    ),
    (
        "403 forbidden is final",
        Reply(403, {"code": 20403, "message": "Forbidden", "status": 403}),
        {"retryable": False, "code": "20403"},
    ),
    (
        "429 with Retry-After is retryable",
        Reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429}, {"Retry-After": "17"}),
        {"retryable": True, "code": "20429", "retry_after": 17.0},
    ),
    (
        "429 without a Twilio code still retries",
        Reply(429, "slow down", {"Retry-After": "3"}),
        {"retryable": True, "retry_after": 3.0},
    ),
    (
        "500 is retryable",
        Reply(500, "<html>Internal Server Error</html>"),
        {"retryable": True, "code": "500", "retry_after": None},
    ),
    (
        "503 is retryable",
        Reply(503, {"code": 20503, "message": "Service Unavailable", "status": 503}),
        {"retryable": True},
    ),
]


@pytest.mark.parametrize(("label", "reply", "expected"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_send_errors(standin: TwilioStandIn, label: str, reply: Reply, expected: dict[str, Any]) -> None:
    standin.fail_next(reply)
    with pytest.raises(SendError) as caught:
        adapter_for(standin).send(sms())
    for field, value in expected.items():
        assert getattr(caught.value, field) == value, field


def test_stand_in_rejects_invalid_number(standin: TwilioStandIn) -> None:
    with pytest.raises(SendError) as caught:
        adapter_for(standin).send(OutboundMessage(channel="twilio", to="tel:+62", text="x"))
    assert caught.value.code == "21211"
    assert not caught.value.retryable


def test_stand_in_rejects_wrong_token(standin: TwilioStandIn) -> None:
    with pytest.raises(SendError) as caught:
        adapter_for(standin, TWILIO_AUTH_TOKEN="wrong").send(sms())
    assert caught.value.code == "20003"
    assert not caught.value.retryable
    assert standin.sent == []


def test_send_timeout_is_retryable(standin: TwilioStandIn) -> None:
    standin.fail_next(Reply(201, {"sid": "SMlate"}, delay=1.0))
    with pytest.raises(SendError) as caught:
        adapter_for(standin, TWILIO_TIMEOUT="0.2").send(sms())
    assert caught.value.retryable
    assert caught.value.code == "timeout"


def test_send_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = TwilioAdapter(SID, TOKEN, sms_from="+15005550006", api_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(SendError) as caught:
        adapter.send(sms())
    assert caught.value.retryable
    assert caught.value.code == "connection"


@pytest.mark.parametrize(
    ("to", "overrides", "code"),
    [
        ("telegram:12345", {}, None),
        ("tel:+6281234567890", {"TWILIO_SMS_FROM": ""}, "not_configured"),
        ("whatsapp:+6281234567890", {"TWILIO_WHATSAPP_FROM": ""}, "not_configured"),
    ],
    ids=["foreign scheme", "no SMS sender", "no WhatsApp sender"],
)
def test_send_refused_before_calling(
    standin: TwilioStandIn, to: str, overrides: dict[str, str], code: str | None
) -> None:
    with pytest.raises(SendError) as caught:
        adapter_for(standin, **overrides).send(OutboundMessage(channel="twilio", to=to, text="x"))
    assert not caught.value.retryable
    assert caught.value.code == code
    assert standin.requests == []


# -- media ----------------------------------------------------------------------------------
def test_fetch_media_follows_redirect_with_basic_auth(standin: TwilioStandIn) -> None:
    url = standin.add_media()
    content, content_type = adapter_for(standin).fetch_media(Attachment(kind="image", url=url))
    assert content == PNG_PIXEL
    assert content_type == "image/png"
    first, second = standin.requests[-2:]
    assert first.headers["authorization"].startswith("Basic ")
    assert second.path.startswith("/content/")


def test_fetch_media_wrong_credentials(standin: TwilioStandIn) -> None:
    url = standin.add_media()
    with pytest.raises(SendError) as caught:
        adapter_for(standin, TWILIO_AUTH_TOKEN="wrong").fetch_media(Attachment(kind="image", url=url))
    assert caught.value.code == "401"
    assert not caught.value.retryable


def test_fetch_media_server_error_retryable(standin: TwilioStandIn) -> None:
    url = standin.add_media()
    standin.fail_next(Reply(502, "bad gateway"))
    with pytest.raises(SendError) as caught:
        adapter_for(standin).fetch_media(Attachment(kind="image", url=url))
    assert caught.value.retryable


def test_fetch_media_rewrites_twilio_host(standin: TwilioStandIn) -> None:
    url = standin.add_media(b"OggS-audio", "audio/ogg")
    public_url = url.replace(standin.base_url, "https://api.twilio.com")
    content, content_type = adapter_for(standin).fetch_media(Attachment(kind="audio", url=public_url))
    assert (content, content_type) == (b"OggS-audio", "audio/ogg")


def test_fetch_media_sends_no_credentials_to_foreign_hosts(standin: TwilioStandIn) -> None:
    with LoopbackProvider() as other:
        other.handle = lambda request: Reply(200, b"\xff\xd8jpeg", {"Content-Type": "image/jpeg"})  # type: ignore[method-assign]
        content, _ = adapter_for(standin).fetch_media(Attachment(kind="image", url=other.base_url + "/x.jpg"))
        assert content == b"\xff\xd8jpeg"
        assert "authorization" not in other.requests[0].headers


# -- status callbacks from the stand-in --------------------------------------------------------
def test_stand_in_posts_signed_status_callbacks() -> None:
    with (
        LoopbackProvider() as receiver,
        TwilioStandIn(account_sid=SID, auth_token=TOKEN, status_callbacks=True) as server,
    ):
        receiver.handle = lambda request: Reply(200, "")  # type: ignore[method-assign]
        assert isinstance(server, TwilioStandIn)
        adapter = adapter_for(server, PUBLIC_BASE_URL=receiver.base_url)
        sent = adapter.send(sms())
        callbacks = receiver.wait_for(2, timeout=5)
        assert len(callbacks) == 2
        statuses = []
        for callback in callbacks:
            pairs = parse_qsl(callback.body.decode(), keep_blank_values=True)
            request = WebhookRequest(
                "POST",
                receiver.base_url + callback.path,
                callback.path,
                callback.headers,
                callback.body,
                tuple(pairs),
            )
            adapter.verify(request)
            statuses += adapter.parse(request).statuses
        assert sorted(s.status for s in statuses) == ["delivered", "sent"]
        assert {s.provider_message_id for s in statuses} == {sent.provider_message_id}
