"""SMS sends through requests against SmsStandIn, in both aggregator dialects."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.base import Attachment, OutboundMessage, SendError
from adapters.sms import SmsAdapter
from gateway.devtools.loopback.server import Reply
from gateway.devtools.loopback.sms import SmsStandIn

KEY, SECRET = "agg-key", "agg-secret"


@pytest.fixture(scope="module")
def shared() -> Iterator[SmsStandIn]:
    # One server for the module: stopping one costs its poll interval (0.5 s).
    with SmsStandIn(api_key=KEY, api_secret=SECRET) as server:
        assert isinstance(server, SmsStandIn)
        yield server


@pytest.fixture
def standin(shared: SmsStandIn) -> SmsStandIn:
    shared.clear()
    shared.sent.clear()
    return shared


def adapter_for(server: SmsStandIn, profile: str = "vonage", **overrides: str) -> SmsAdapter:
    env = {
        "SMS_SIGNATURE_SECRET": "sig",
        "SMS_PROFILE": profile,
        "SMS_API_BASE_URL": server.base_url,
        "SMS_API_KEY": KEY,
        "SMS_API_SECRET": SECRET,
        "PUBLIC_BASE_URL": "https://lapor.example.id",
        "SMS_TIMEOUT": "2",
        **overrides,
    }
    adapter = SmsAdapter.from_env(env)
    assert adapter is not None
    return adapter


def sms(
    text: str = "Laporan diterima. Tiket #12345678", to: str = "tel:+6281234567890", **kw: Any
) -> OutboundMessage:
    return OutboundMessage(channel="sms", to=to, text=text, **kw)


PROFILES = ["vonage", "infobip"]


# -- Vonage -------------------------------------------------------------------------------------
def test_vonage_send_gsm7(standin: SmsStandIn) -> None:
    result = adapter_for(standin).send(sms(reference="out-77"))
    assert result.status == "sent"
    assert result.segments == 1
    [request] = standin.requests
    assert request.path == "/sms/json"
    form = request.form()
    assert form["api_key"] == KEY and form["api_secret"] == SECRET
    assert (form["from"], form["to"], form["type"]) == ("1708", "6281234567890", "text")
    assert form["text"] == "Laporan diterima. Tiket #12345678"
    assert form["client-ref"] == "out-77"
    assert form["callback"] == "https://lapor.example.id/webhooks/sms/status"
    assert result.provider_message_id == standin.sent[0]["ids"][0]


def test_vonage_send_unicode(standin: SmsStandIn) -> None:
    result = adapter_for(standin).send(sms("Terima kasih 🙏"))
    assert standin.requests[0].form()["type"] == "unicode"
    assert result.segments == 1


def test_vonage_multipart_ids(standin: SmsStandIn) -> None:
    result = adapter_for(standin).send(sms("x" * 300))
    assert result.segments == 2
    assert len(result.extra_ids) == 1
    assert [result.provider_message_id, *result.extra_ids] == standin.sent[0]["ids"]


@pytest.mark.parametrize("profile", PROFILES)
def test_long_reply_capped(standin: SmsStandIn, profile: str) -> None:
    adapter_for(standin, profile, SMS_MAX_SEGMENTS="2").send(sms("Informasi layanan publik. " * 60))
    [sent] = standin.sent
    assert sent["parts"] == 2
    assert sent["text"].endswith("...")
    assert len(sent["text"]) <= 306


VONAGE_STATUS_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("1 throttled retries", "1", {"retryable": True, "code": "1"}),
    ("2 missing parameters is final", "2", {"retryable": False}),
    ("4 bad credentials is final", "4", {"retryable": False, "code": "4"}),
    ("5 internal error retries", "5", {"retryable": True}),
    ("6 invalid message is final", "6", {"retryable": False}),
    ("7 number barred is unreachable", "7", {"retryable": False, "unreachable": True}),
    ("9 quota is final", "9", {"retryable": False}),
    ("29 non-whitelisted is final", "29", {"retryable": False, "code": "29"}),
    ("an unknown status is final", "99", {"retryable": False, "code": "99"}),
]


@pytest.mark.parametrize(
    ("label", "status", "expected"), VONAGE_STATUS_CASES, ids=[c[0] for c in VONAGE_STATUS_CASES]
)
def test_vonage_status_codes(standin: SmsStandIn, label: str, status: str, expected: dict[str, Any]) -> None:
    standin.fail_next(
        Reply(200, {"message-count": "1", "messages": [{"status": status, "error-text": "from test"}]})
    )
    with pytest.raises(SendError) as caught:
        adapter_for(standin).send(sms())
    for field, value in expected.items():
        assert getattr(caught.value, field) == value, field


def test_vonage_partial_acceptance_never_retries(standin: SmsStandIn) -> None:
    standin.fail_next(
        Reply(
            200,
            {
                "message-count": "2",
                "messages": [{"status": "0", "message-id": "A1"}, {"status": "1", "error-text": "Throttled"}],
            },
        )
    )
    with pytest.raises(SendError) as caught:
        adapter_for(standin).send(sms("y" * 200))
    assert not caught.value.retryable  # part one went out: a retry would send it twice
    assert caught.value.code == "1"


def test_vonage_wrong_credentials(standin: SmsStandIn) -> None:
    with pytest.raises(SendError) as caught:
        adapter_for(standin, SMS_API_SECRET="wrong").send(sms())
    assert caught.value.code == "4"
    assert not caught.value.retryable
    assert standin.sent == []


# -- Infobip --------------------------------------------------------------------------------------
def test_infobip_send(standin: SmsStandIn) -> None:
    result = adapter_for(standin, "infobip").send(sms("Halo 😀", reference="out-9"))
    assert result.status == "queued"
    [request] = standin.requests
    assert request.path == "/sms/2/text/advanced"
    assert request.headers["authorization"] == f"App {KEY}"
    [item] = request.json()["messages"]
    assert item["from"] == "1708"
    assert item["destinations"] == [{"to": "6281234567890"}]
    assert item["text"] == "Halo 😀"
    assert item["callbackData"] == "out-9"
    assert item["notifyUrl"] == "https://lapor.example.id/webhooks/sms/status"
    assert result.provider_message_id == standin.sent[0]["ids"][0]


def test_infobip_wrong_key(standin: SmsStandIn) -> None:
    with pytest.raises(SendError) as caught:
        adapter_for(standin, "infobip", SMS_API_KEY="nope").send(sms())
    assert caught.value.code == "UNAUTHORIZED"
    assert not caught.value.retryable


def test_infobip_rejected_destination(standin: SmsStandIn) -> None:
    rejected = {
        "groupId": 5,
        "groupName": "REJECTED",
        "id": 52,
        "name": "REJECTED_INVALID_DESTINATION",
        "description": "Invalid destination address",
    }
    standin.fail_next(
        Reply(200, {"bulkId": "b", "messages": [{"to": "62", "status": rejected, "messageId": "m"}]})
    )
    with pytest.raises(SendError) as caught:
        adapter_for(standin, "infobip").send(sms())
    assert (caught.value.code, caught.value.retryable, caught.value.unreachable) == (
        "REJECTED_INVALID_DESTINATION",
        False,
        True,
    )


# -- HTTP failures, both dialects -----------------------------------------------------------------
HTTP_CASES: list[tuple[str, Reply, dict[str, Any]]] = [
    (
        "429 with Retry-After",
        Reply(429, {"error": "slow"}, {"Retry-After": "12"}),
        {"retryable": True, "retry_after": 12.0},
    ),
    ("429 without Retry-After", Reply(429, ""), {"retryable": True, "retry_after": None}),
    ("500", Reply(500, "boom"), {"retryable": True, "code": "500"}),
    ("503", Reply(503, ""), {"retryable": True}),
    (
        "400 bad request",
        Reply(
            400, {"requestError": {"serviceException": {"messageId": "BAD_REQUEST", "text": "Bad request"}}}
        ),
        {"retryable": False},
    ),
    ("401", Reply(401, ""), {"retryable": False, "code": "401"}),
    ("403", Reply(403, ""), {"retryable": False, "code": "403"}),
    ("200 that is not JSON", Reply(200, "<html>ok</html>"), {"retryable": False, "code": "bad_answer"}),
]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("label", "reply", "expected"), HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_http_failures(
    standin: SmsStandIn, profile: str, label: str, reply: Reply, expected: dict[str, Any]
) -> None:
    standin.fail_next(reply)
    with pytest.raises(SendError) as caught:
        adapter_for(standin, profile).send(sms())
    for field, value in expected.items():
        assert getattr(caught.value, field) == value, field


@pytest.mark.parametrize("profile", PROFILES)
def test_timeout_retryable(standin: SmsStandIn, profile: str) -> None:
    standin.fail_next(Reply(200, {"messages": []}, delay=1.0))
    with pytest.raises(SendError) as caught:
        adapter_for(standin, profile, SMS_TIMEOUT="0.2").send(sms())
    assert caught.value.retryable
    assert caught.value.code == "timeout"


def test_connection_refused_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = SmsAdapter("sig", api_base_url=f"http://127.0.0.1:{port}", api_key=KEY, api_secret=SECRET)
    with pytest.raises(SendError) as caught:
        adapter.send(sms())
    assert caught.value.retryable
    assert caught.value.code == "connection"


@pytest.mark.parametrize(
    ("to", "overrides", "code"),
    [
        ("whatsapp:+6281234567890", {}, "unsupported_address"),
        ("tel:1708", {}, "invalid_number"),
        ("tel:+6281234567890", {"SMS_API_KEY": ""}, "not_configured"),
    ],
    ids=["not a tel address", "shortcode is not a phone", "no API key"],
)
def test_refused_before_calling(standin: SmsStandIn, to: str, overrides: dict[str, str], code: str) -> None:
    with pytest.raises(SendError) as caught:
        adapter_for(standin, **overrides).send(sms(to=to))
    assert caught.value.code == code
    assert not caught.value.retryable
    assert standin.requests == []


@pytest.mark.parametrize("to", ["tel:081234567890", "tel:+62 812-3456-7890", "tel:0062812345678 90"])
def test_number_shapes_sent_as_international_digits(standin: SmsStandIn, to: str) -> None:
    adapter_for(standin).send(sms(to=to))
    assert standin.requests[0].form()["to"] == "6281234567890"


def test_fetch_media_has_nothing_to_fetch(standin: SmsStandIn) -> None:
    with pytest.raises(SendError):
        adapter_for(standin).fetch_media(Attachment(kind="image", url="http://x"))


def test_sends_repeatedly_then_closes(standin: SmsStandIn) -> None:
    adapter = adapter_for(standin)
    adapter.send(sms())
    adapter.send(sms())
    assert len(standin.sent) == 2
    adapter.close()
