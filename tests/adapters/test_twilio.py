"""Twilio adapter: signatures, inbound parsing, status callbacks and simulate, over payload files.

Payload files under testdata/twilio/ are form bodies written from Twilio's webhook
documentation (inbound SMS, WhatsApp with media, location and buttons, status
callbacks). Signatures are computed with Twilio's own RequestValidator over a
werkzeug MultiDict, the way a Flask app would see the form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from adapters.base import (
    InboundMessage,
    Location,
    PayloadError,
    SignatureError,
    StatusUpdate,
    WebhookRequest,
)
from adapters.twilio import STATUS_TABLE, TwilioAdapter

DATA = Path(__file__).parent / "testdata" / "twilio"
SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-test-token"
PUBLIC = "https://lapor.example.id"


def make_adapter(**overrides: Any) -> TwilioAdapter:
    env = {
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_SMS_FROM": "+15005550006",
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "PUBLIC_BASE_URL": PUBLIC,
        **overrides,
    }
    adapter = TwilioAdapter.from_env(env)
    assert adapter is not None
    return adapter


def load(name: str) -> list[tuple[str, str]]:
    return parse_qsl((DATA / name).read_text().strip(), keep_blank_values=True)


def request_for(
    pairs: list[tuple[str, str]],
    path: str = "/webhooks/twilio",
    *,
    signed_url: str | None = None,
    url: str | None = None,
    token: str = TOKEN,
    signature: str | None = None,
) -> WebhookRequest:
    url = url or PUBLIC + path
    if signature is None:
        signature = RequestValidator(token).compute_signature(signed_url or url, MultiDict(pairs))
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature:
        headers["x-twilio-signature"] = signature
    return WebhookRequest("POST", url, path, headers, urlencode(pairs).encode(), form=tuple(pairs))


# -- from_env --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "env",
    [
        {},
        {"TWILIO_ACCOUNT_SID": SID},
        {"TWILIO_AUTH_TOKEN": TOKEN},
        {"TWILIO_ACCOUNT_SID": " ", "TWILIO_AUTH_TOKEN": "x"},
    ],
    ids=["nothing", "sid only", "token only", "blank sid"],
)
def test_channel_off_without_credentials(env: dict[str, str]) -> None:
    assert TwilioAdapter.from_env(env) is None


def test_from_env_reads_settings() -> None:
    adapter = make_adapter(TWILIO_API_BASE_URL="http://127.0.0.1:9/", TWILIO_TIMEOUT="2.5")
    assert adapter.api_base_url == "http://127.0.0.1:9"
    assert adapter.timeout == 2.5
    assert adapter.whatsapp_from == "whatsapp:+14155238886"
    assert adapter.public_base_url == PUBLIC
    assert make_adapter(TWILIO_WHATSAPP_FROM="+14155238886").whatsapp_from == "whatsapp:+14155238886"


# -- inbound messages ------------------------------------------------------------------
# The words behind sms_base64_body.form's Body (base64 of their UTF-8 bytes, as Twilio has been
# seen to send some concatenated SMS).
BASE64_TEXT = (
    "Selamat siang Bapak/Ibu, saya mau melaporkan jalan berlubang besar di Jl. Raya Bogor KM 27 "
    "dekat pertigaan pasar, sudah dua minggu tidak diperbaiki dan kemarin ada pengendara motor jatuh. "
    "Mohon segera ditangani 🙏"
)
MESSAGE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "plain SMS",
        "sms_inbound.form",
        {
            "provider_message_id": "SM1f0e6a3bd4c34a0f9a6d1e2c3b4a5d6e",
            "sender": "tel:+6281234567890",
            "recipient": "tel:+15005550006",
            "text": "Jalan rusak di depan Pasar Minggu, mohon diperbaiki",
            "kind": "text",
            "attachments": (),
            "location": None,
        },
    ),
    ("alphanumeric sender is not a phone", "sms_alphanumeric_sender.form", {"sender": "sms:TELKOMSEL"}),
    ("local 08 format sender", "sms_local_format_sender.form", {"sender": "tel:+6281234567890"}),
    (
        "control characters removed, newline and tab kept",
        "sms_control_chars.form",
        {"text": "adanuldan\ttab\nbaris"},
    ),
    (
        "WhatsApp text",
        "whatsapp_text.form",
        {
            "sender": "whatsapp:+6281234567890",
            "recipient": "whatsapp:+14155238886",
            "sender_name": "Siti Rahayu",
            "text": "Selamat pagi, saya mau lapor",
            "kind": "text",
        },
    ),
    ("WhatsApp location", "whatsapp_location.form", {"kind": "location", "text": ""}),
    (
        "WhatsApp quick-reply button",
        "whatsapp_button.form",
        {"kind": "button", "button_payload": "confirm_yes", "text": "Ya, kirim"},
    ),
    ("WhatsApp voice note", "whatsapp_voice_note.form", {"kind": "audio", "text": ""}),
    (
        "SMS body that arrived base64-encoded is decoded",
        "sms_base64_body.form",
        {"kind": "text", "text": BASE64_TEXT},
    ),
    (
        "a word that only looks like base64 is kept as typed",
        "sms_base64_lookalike.form",
        {"kind": "text", "text": "LaporanJalanRusakBesar12"},
    ),
    (
        "base64 of one word (no space) is kept as typed: too easy to mistake",
        "sms_base64_one_word.form",
        {"kind": "text", "text": "UGFzYXJNaW5nZ3VCYW5qaXI="},
    ),
    (
        "ButtonText on a plain SMS does not replace the body",
        "sms_button_text.form",
        {
            "kind": "text",
            "text": "Jalan rusak di depan Pasar Minggu, mohon diperbaiki",
            "button_payload": None,
        },
    ),
]


@pytest.mark.parametrize(("label", "name", "expected"), MESSAGE_CASES, ids=[c[0] for c in MESSAGE_CASES])
def test_inbound_messages(label: str, name: str, expected: dict[str, Any]) -> None:
    adapter = make_adapter()
    request = request_for(load(name))
    adapter.verify(request)
    result = adapter.parse(request)
    assert result.statuses == []
    assert len(result.messages) == 1
    message = result.messages[0]
    assert isinstance(message, InboundMessage)
    assert message.channel == "twilio"
    for field, value in expected.items():
        assert getattr(message, field) == value, field
    assert result.response.status == 200
    assert result.response.body == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert result.response.content_type == "text/xml"


def test_whatsapp_media_becomes_attachments() -> None:
    message = make_adapter().parse(request_for(load("whatsapp_media.form"))).messages[0]
    assert message.kind == "image"
    assert [a.kind for a in message.attachments] == ["image", "audio"]
    assert [a.content_type for a in message.attachments] == ["image/jpeg", "audio/ogg"]
    assert message.attachments[0].url is not None and message.attachments[0].url.endswith(
        "/Media/ME0aa0e6a3bd4c34a0f9a6d1e2c3b4a5d6"
    )
    assert message.attachments[0].media_id == "ME0aa0e6a3bd4c34a0f9a6d1e2c3b4a5d6"
    assert message.text == "Foto sampah menumpuk"
    assert message.raw["NumMedia"] == "2"


def test_location_fields() -> None:
    message = make_adapter().parse(request_for(load("whatsapp_location.form"))).messages[0]
    assert message.location == Location(
        latitude=-6.2087634,
        longitude=106.845599,
        name="Monas",
        address="Jl. Medan Merdeka Barat No.1, Jakarta Pusat",
    )


def test_emoji_and_1600_characters_kept_whole() -> None:
    pairs = load("sms_emoji_1600.form")
    message = make_adapter().parse(request_for(pairs)).messages[0]
    assert message.text == dict(pairs)["Body"]
    assert len(message.text) == 1600
    assert "😡" in message.text


def test_raw_keeps_repeated_keys_as_lists() -> None:
    pairs = [*load("sms_inbound.form"), ("Tag", "a"), ("Tag", "b")]
    message = make_adapter().parse(request_for(pairs)).messages[0]
    assert message.raw["Tag"] == ["a", "b"]
    assert message.raw["Body"] == "Jalan rusak di depan Pasar Minggu, mohon diperbaiki"


MALFORMED = [
    ("no MessageSid", "missing_message_sid.form", "MessageSid"),
    ("no From", "missing_from.form", "From"),
    ("NumMedia not a number", "bad_num_media.form", "NumMedia"),
    ("latitude not a number", "bad_latitude.form", "Latitude"),
]


@pytest.mark.parametrize(("label", "name", "reason"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_inbound(label: str, name: str, reason: str) -> None:
    adapter = make_adapter()
    request = request_for(load(name))
    adapter.verify(request)
    with pytest.raises(PayloadError, match=reason):
        adapter.parse(request)


def test_empty_body_is_malformed() -> None:
    with pytest.raises(PayloadError):
        make_adapter().parse(request_for([]))


# -- status callbacks -------------------------------------------------------------------
STATUS_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("sent", "status_sent.form", {"status": "sent", "error_code": None, "recipient": "tel:+6281234567890"}),
    ("delivered", "status_delivered.form", {"status": "delivered", "opted_out": False}),
    (
        "WhatsApp read",
        "status_read_whatsapp.form",
        {"status": "read", "recipient": "whatsapp:+6281234567890"},
    ),
    (
        "sent arriving after read is still reported as sent (the gateway ranks)",
        "status_sent_after_read.form",
        {"status": "sent", "provider_message_id": "SM200000000000000000000000000000bb"},
    ),
    (
        "undelivered with carrier error",
        "status_undelivered_30003.form",
        {"status": "failed", "error_code": "30003"},
    ),
    (
        "21610 means opted out",
        "status_failed_21610_opted_out.form",
        {
            "status": "failed",
            "error_code": "21610",
            "opted_out": True,
            "error_message": "Attempt to send to unsubscribed recipient",
        },
    ),
    (
        "63016 outside the window",
        "status_failed_63016_window.form",
        {"status": "failed", "error_code": "63016"},
    ),
    ("canceled", "status_canceled.form", {"status": "failed"}),
]


@pytest.mark.parametrize(("label", "name", "expected"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_status_callbacks(label: str, name: str, expected: dict[str, Any]) -> None:
    adapter = make_adapter()
    request = request_for(load(name), "/webhooks/twilio/status")
    adapter.verify(request)
    result = adapter.parse(request)
    assert result.messages == []
    assert len(result.statuses) == 1
    update = result.statuses[0]
    assert isinstance(update, StatusUpdate)
    assert update.channel == "twilio"
    for field, value in expected.items():
        assert getattr(update, field) == value, field
    assert result.response.status == 200


def test_status_detected_on_main_path_by_message_status() -> None:
    result = make_adapter().parse(request_for(load("status_delivered.form")))
    assert [s.status for s in result.statuses] == ["delivered"]
    assert result.messages == []


def test_inbound_status_words_ignored() -> None:
    result = make_adapter().parse(
        request_for(load("status_receiving_ignored.form"), "/webhooks/twilio/status")
    )
    assert result.statuses == []
    assert result.ignored and "receiving" in result.ignored[0]


@pytest.mark.parametrize("name", ["status_missing_status.form", "status_empty_status.form"])
def test_status_without_a_status_word_is_acknowledged_and_ignored(name: str) -> None:
    result = make_adapter().parse(request_for(load(name), "/webhooks/twilio/status"))
    assert (result.statuses, result.messages) == ([], [])
    assert len(result.ignored) == 1 and "without MessageStatus" in result.ignored[0]
    assert result.response.status == 200


def test_status_with_an_unknown_word_is_refused_with_the_reason() -> None:
    with pytest.raises(PayloadError, match="unknown MessageStatus 'teleported'"):
        make_adapter().parse(request_for(load("status_unknown_word.form"), "/webhooks/twilio/status"))


def test_whatsapp_body_that_looks_like_base64_is_not_decoded() -> None:
    """Twilio's base64 bodies are concatenated SMS; a WhatsApp text is always kept as typed."""
    import base64

    encoded = base64.b64encode(BASE64_TEXT.encode()).decode()
    pairs = [(k, encoded if k == "Body" else v) for k, v in load("whatsapp_text.form")]
    message = make_adapter().parse(request_for(pairs)).messages[0]
    assert message.text == encoded


def test_decoded_body_keeps_the_original_in_raw() -> None:
    message = make_adapter().parse(request_for(load("sms_base64_body.form"))).messages[0]
    assert message.text == BASE64_TEXT
    assert message.raw["Body"] != BASE64_TEXT and message.raw["Body"].endswith("=")


def test_status_table_maps_every_word_onto_delivery_statuses() -> None:
    from adapters.base import DELIVERY_STATUSES

    assert set(STATUS_TABLE.values()) <= set(DELIVERY_STATUSES)
    for word in (
        "queued",
        "sending",
        "sent",
        "delivered",
        "read",
        "undelivered",
        "failed",
        "accepted",
        "canceled",
    ):
        assert word in STATUS_TABLE


# -- signatures ---------------------------------------------------------------------------
def test_signature_right() -> None:
    make_adapter().verify(request_for(load("sms_inbound.form")))


def test_signature_missing() -> None:
    with pytest.raises(SignatureError, match="missing"):
        make_adapter().verify(request_for(load("sms_inbound.form"), signature=""))


def test_signature_wrong_token() -> None:
    with pytest.raises(SignatureError):
        make_adapter().verify(request_for(load("sms_inbound.form"), token="another-token"))


def test_signature_garbage() -> None:
    with pytest.raises(SignatureError):
        make_adapter().verify(request_for(load("sms_inbound.form"), signature="bm90IGEgc2lnbmF0dXJl"))


def test_signature_tampered_body() -> None:
    pairs = load("sms_inbound.form")
    good = request_for(pairs)
    tampered = [(k, "Jalan sudah bagus" if k == "Body" else v) for k, v in pairs]
    request = request_for(tampered, signature=good.header("X-Twilio-Signature"))
    with pytest.raises(SignatureError):
        make_adapter().verify(request)


def test_signature_other_url() -> None:
    with pytest.raises(SignatureError):
        make_adapter().verify(
            request_for(load("sms_inbound.form"), signed_url="https://evil.example/webhooks/twilio")
        )


def test_signature_over_repeated_keys() -> None:
    pairs = [
        *load("sms_inbound.form"),
        ("MediaUrl", "https://b.example/2"),
        ("MediaUrl", "https://a.example/1"),
    ]
    make_adapter().verify(request_for(pairs))
    # A signature over only the first value of the repeated key must not pass.
    first_only = RequestValidator(TOKEN).compute_signature(PUBLIC + "/webhooks/twilio", dict(pairs))
    with pytest.raises(SignatureError):
        make_adapter().verify(request_for(pairs, signature=first_only))


@pytest.mark.parametrize(
    ("public", "signed"),
    [
        ("https://lapor.example.id", "https://lapor.example.id:443/webhooks/twilio"),
        ("https://lapor.example.id:443", "https://lapor.example.id/webhooks/twilio"),
        ("http://lapor.example.id", "http://lapor.example.id:80/webhooks/twilio"),
        ("http://lapor.example.id:8080", "http://lapor.example.id:8080/webhooks/twilio"),
    ],
    ids=["443 signed, absent here", "443 here, absent signed", "80 signed", "custom port"],
)
def test_signature_default_port_variants(public: str, signed: str) -> None:
    adapter = make_adapter(PUBLIC_BASE_URL=public)
    url = public + "/webhooks/twilio"
    adapter.verify(request_for(load("sms_inbound.form"), url=url, signed_url=signed))


def test_signature_port_mismatch_rejected() -> None:
    url = "http://lapor.example.id:8080/webhooks/twilio"
    with pytest.raises(SignatureError):
        make_adapter().verify(
            request_for(
                load("sms_inbound.form"), url=url, signed_url="http://lapor.example.id:8081/webhooks/twilio"
            )
        )


def test_signature_covers_query_string() -> None:
    url = PUBLIC + "/webhooks/twilio?site=jakarta"
    make_adapter().verify(request_for(load("sms_inbound.form"), url=url))
    with pytest.raises(SignatureError):
        make_adapter().verify(
            request_for(load("sms_inbound.form"), url=url, signed_url=PUBLIC + "/webhooks/twilio?site=bogor")
        )


def test_signature_from_raw_body_when_form_not_parsed() -> None:
    good = request_for(load("sms_inbound.form"))
    bare = WebhookRequest(good.method, good.url, good.path, good.headers, good.body)
    make_adapter().verify(bare)
    assert make_adapter().parse(bare).messages[0].text.startswith("Jalan rusak")


# -- simulate -----------------------------------------------------------------------------
def _replay(adapter: TwilioAdapter, simulated: Any) -> WebhookRequest:
    pairs = parse_qsl(simulated.body.decode(), keep_blank_values=True)
    headers = {k.lower(): v for k, v in simulated.headers.items()}
    return WebhookRequest(
        simulated.method,
        adapter.public_base_url + simulated.path,
        simulated.path,
        headers,
        simulated.body,
        tuple(pairs),
    )


def test_simulate_sms_round_trip() -> None:
    adapter = make_adapter()
    simulated = adapter.simulate("0812-3456-7890", "Tolong, got mampet 🙏")
    assert simulated.path == "/webhooks/twilio"
    request = _replay(adapter, simulated)
    adapter.verify(request)
    message = adapter.parse(request).messages[0]
    assert message.sender == "tel:+6281234567890"
    assert message.text == "Tolong, got mampet 🙏"
    assert message.provider_message_id.startswith("SM") and len(message.provider_message_id) == 34
    assert message.recipient == "tel:+15005550006"


def test_simulate_whatsapp_photo_and_location() -> None:
    adapter = make_adapter()
    photo = adapter.simulate("whatsapp:+6281234567890", "foto", photo_url="https://example.org/pothole.png")
    request = _replay(adapter, photo)
    adapter.verify(request)
    message = adapter.parse(request).messages[0]
    assert message.sender == "whatsapp:+6281234567890"
    assert message.kind == "image"
    assert message.attachments[0].content_type == "image/png"
    pin = adapter.simulate("whatsapp:+6281234567890", "", location=(-6.2, 106.8), message_id="SMfixed")
    request = _replay(adapter, pin)
    adapter.verify(request)
    message = adapter.parse(request).messages[0]
    assert message.provider_message_id == "SMfixed"
    assert message.location is not None and (message.location.latitude, message.location.longitude) == (
        -6.2,
        106.8,
    )


def test_simulate_signed_for_public_url_only() -> None:
    adapter = make_adapter()
    simulated = adapter.simulate("+6281234567890", "halo")
    request = _replay(adapter, simulated)
    moved = WebhookRequest(
        request.method,
        "https://other.example/webhooks/twilio",
        request.path,
        request.headers,
        request.body,
        request.form,
    )
    with pytest.raises(SignatureError):
        adapter.verify(moved)


# -- through the real webhook: ignored shapes store nothing, refused ones say why ------------------
GATEWAY_PUBLIC = "http://localhost:5000"  # PUBLIC_BASE_URL of the test settings (tests/conftest.py)


def _post_signed(client: Any, path: str, pairs: list[tuple[str, str]]) -> Any:
    signature = RequestValidator(TOKEN).compute_signature(GATEWAY_PUBLIC + path, MultiDict(pairs))
    return client.post(
        path,
        data=urlencode(pairs),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )


def _stored(runtime: Any) -> tuple[int, int]:
    from sqlalchemy import func, select

    from gateway.store.models import DeliveryReceipt, Message

    with runtime.db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Message)) or 0,
            session.scalar(select(func.count()).select_from(DeliveryReceipt)) or 0,
        )


def test_webhook_acknowledges_an_empty_status_and_stores_nothing(client: Any, runtime: Any) -> None:
    res = _post_signed(client, "/webhooks/twilio/status", load("status_empty_status.form"))
    assert res.status_code == 200
    assert _stored(runtime) == (0, 0)


def test_webhook_refuses_an_unknown_status_with_the_reason(client: Any, runtime: Any) -> None:
    res = _post_signed(client, "/webhooks/twilio/status", load("status_unknown_word.form"))
    assert res.status_code == 400
    assert "unknown MessageStatus 'teleported'" in res.get_json()["error"]["message"]
    assert _stored(runtime) == (0, 0)


def test_webhook_stores_a_base64_sms_as_its_words(client: Any, runtime: Any) -> None:
    from sqlalchemy import select

    from gateway.store.models import Message

    res = _post_signed(client, "/webhooks/twilio", load("sms_base64_body.form"))
    assert res.status_code == 200
    with runtime.db.session() as session:
        assert session.scalars(select(Message.text)).all() == [BASE64_TEXT]
