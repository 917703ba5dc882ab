"""WhatsApp Cloud API adapter: handshake, signature, parsing (table over testdata/whatsapp/*.json), simulate.

The payload files are written from Meta's webhook reference; each case below names
a file and what the adapter must make of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters import adapter_class
from adapters.base import (
    InboundMessage,
    ParseResult,
    PayloadError,
    SignatureError,
    WebhookRequest,
)
from adapters.whatsapp import STATUS_TABLE, WhatsAppCloudAdapter
from tests.adapters.expect import check_message as check

DATA = Path(__file__).parent / "testdata" / "whatsapp"
SECRET = "meta-app-secret-for-tests"
PHONE_NUMBER_ID = "106540352242922"
SITI = "whatsapp:+6281234567890"

ENV = {
    "WHATSAPP_ACCESS_TOKEN": "EAAG-test-token",
    "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
    "WHATSAPP_APP_SECRET": SECRET,
    "WHATSAPP_VERIFY_TOKEN": "verify-me",
    "PUBLIC_BASE_URL": "https://lapor.example.id",
}


def make_adapter(**overrides: str) -> WhatsAppCloudAdapter:
    adapter = WhatsAppCloudAdapter.from_env({**ENV, **overrides})
    assert adapter is not None
    return adapter


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(body: bytes, signature: str | None) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return WebhookRequest(
        method="POST",
        url="https://lapor.example.id/webhooks/whatsapp",
        path="/webhooks/whatsapp",
        headers=headers,
        body=body,
    )


def get(query: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(
        method="GET",
        url="https://lapor.example.id/webhooks/whatsapp",
        path="/webhooks/whatsapp",
        headers={},
        body=b"",
        query=tuple(query.items()),
    )


# -- configuration ---------------------------------------------------------------------


def test_registered_under_its_channel_name() -> None:
    assert adapter_class("whatsapp") is WhatsAppCloudAdapter
    assert WhatsAppCloudAdapter.name == "whatsapp"
    assert WhatsAppCloudAdapter.menu_style == "list"
    assert WhatsAppCloudAdapter.max_text_length == 4096


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"WHATSAPP_ACCESS_TOKEN": "x"},
        {"WHATSAPP_PHONE_NUMBER_ID": "1"},
        {"WHATSAPP_ACCESS_TOKEN": " ", "WHATSAPP_PHONE_NUMBER_ID": "1"},
    ],
)
def test_channel_is_off_without_token_and_phone_number_id(env: dict[str, str]) -> None:
    assert WhatsAppCloudAdapter.from_env(env) is None


def test_defaults_from_env() -> None:
    adapter = WhatsAppCloudAdapter.from_env(
        {"WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_TIMEOUT": "nonsense"}
    )
    assert adapter is not None
    assert adapter.api_base_url == "https://graph.facebook.com/v21.0"
    assert (adapter.template_name, adapter.template_language) == ("lapor_update", "id")
    assert adapter.timeout == 10.0


# -- handshake -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "ok"),
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}, True),
        ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}, False),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "verify-me", "hub.challenge": "1"}, False),
        ({"hub.verify_token": "verify-me", "hub.challenge": "1"}, False),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, False),
    ],
)
def test_handshake(query: dict[str, str], ok: bool) -> None:
    adapter = make_adapter()
    if ok:
        response = adapter.handshake(get(query))
        assert (response.status, response.body) == (200, "1158201444")
    else:
        with pytest.raises(SignatureError):
            adapter.handshake(get(query))


def test_handshake_refused_when_verify_token_unset() -> None:
    adapter = make_adapter(WHATSAPP_VERIFY_TOKEN="")
    with pytest.raises(SignatureError):
        adapter.handshake(get({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}))


# -- signature ---------------------------------------------------------------------------------

BODY = (DATA / "text.json").read_bytes()


@pytest.mark.parametrize(
    ("label", "signature", "secret_env", "ok"),
    [
        ("right", sign(BODY), SECRET, True),
        ("right, upper-case hex", "sha256=" + sign(BODY).split("=", 1)[1].upper(), SECRET, True),
        ("wrong secret", sign(BODY, "another-secret"), SECRET, False),
        ("signature of other bytes", sign(BODY + b" "), SECRET, False),
        ("sha1 scheme", "sha1=" + hashlib.sha1(BODY).hexdigest(), SECRET, False),  # noqa: S324
        ("missing header", None, SECRET, False),
        ("empty header", "", SECRET, False),
        ("app secret unset: never accept", sign(BODY, ""), "", False),
    ],
)
def test_verify(label: str, signature: str | None, secret_env: str, ok: bool) -> None:
    adapter = make_adapter(WHATSAPP_APP_SECRET=secret_env)
    if ok:
        adapter.verify(post(BODY, signature))
    else:
        with pytest.raises(SignatureError):
            adapter.verify(post(BODY, signature))


def test_signature_is_over_raw_bytes_not_reserialized_json() -> None:
    """Meta signs the bytes it sent; the same JSON with other spacing must not verify."""
    adapter = make_adapter()
    respaced = json.dumps(json.loads(BODY)).encode()
    assert respaced != BODY
    with pytest.raises(SignatureError):
        adapter.verify(post(respaced, sign(BODY)))


# -- parse: the table ---------------------------------------------------------------------------


@dataclass
class Case:
    file: str
    raises: type[Exception] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # substrings, one per expected ignored reason


CASES = [
    Case(
        "text.json",
        messages=[
            {
                "provider_message_id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFDNBQTFCMkMzRDRFNUY2MDcwODA5AA==",
                "sender": SITI,
                "sender_name": "Siti Rahmawati",
                "recipient": "whatsapp:+6281100001708",
                "kind": "text",
                "text": "Jalan di depan rumah saya rusak parah 🚧🙏 mohon diperbaiki",
                "timestamp": datetime(2024, 6, 10, 6, 13, 20, tzinfo=UTC),
            }
        ],
    ),
    Case("text_long.json", messages=[{"kind": "text", "text_length": 1600}]),
    Case(
        "image.json",
        messages=[
            {
                "kind": "image",
                "text": "Sampah menumpuk di pasar",
                "attachment": {
                    "kind": "image",
                    "media_id": "2754859441498128",
                    "content_type": "image/jpeg",
                    "caption": "Sampah menumpuk di pasar",
                },
            }
        ],
    ),
    Case(
        "audio_voice.json",
        messages=[
            {
                "kind": "voice",
                "text": "",
                "attachment": {
                    "kind": "voice",
                    "media_id": "1003383421387256",
                    "content_type": "audio/ogg; codecs=opus",
                },
            }
        ],
    ),
    Case(
        "video.json",
        messages=[
            {"kind": "video", "text": "Banjir sejak pagi", "attachment": {"media_id": "1166846181421424"}}
        ],
    ),
    Case(
        "document.json",
        messages=[
            {
                "kind": "document",
                "text": "Surat keterangan",
                "attachment": {
                    "media_id": "1230980948452302",
                    "filename": "surat_rt05.pdf",
                    "content_type": "application/pdf",
                },
            }
        ],
    ),
    Case(
        "sticker.json",
        messages=[{"kind": "sticker", "attachment": {"kind": "sticker", "content_type": "image/webp"}}],
    ),
    Case(
        "location.json",
        messages=[
            {
                "kind": "location",
                "location": {
                    "latitude": -6.9147,
                    "longitude": 107.6098,
                    "name": "Kantor Kelurahan Braga",
                    "address": "Jl. Merdeka No. 1, Bandung",
                },
            }
        ],
    ),
    Case(
        "contacts.json",
        messages=[
            {
                "kind": "contacts",
                "text": "Pak RT Budi: +62 812-1111-2222\nAni Lestari: +62 813-3333-4444, +62 22 4201234",
            }
        ],
    ),
    Case("button.json", messages=[{"kind": "button", "text": "Cek status", "button_payload": "status_cek"}]),
    Case(
        "interactive_button_reply.json",
        messages=[{"kind": "button", "text": "Ya, anonim", "button_payload": "anon_yes"}],
    ),
    Case(
        "interactive_list_reply.json",
        messages=[{"kind": "button", "text": "Infrastruktur", "button_payload": "cat_infrastruktur"}],
    ),
    Case("reaction.json", messages=[{"kind": "reaction", "text": "👍"}]),
    Case("reaction_removed.json", ignored=["reaction removed"]),
    Case(
        "interactive_nfm_reply_flow.json",
        messages=[
            {
                "provider_message_id": "wamid.FLOW1",
                "kind": "text",
                "text": "kategori: Infrastruktur\nlokasi: Jl. Merdeka No. 5, Bandung\n"
                "uraian: Trotoar ambles sepanjang 10 meter\nfoto_ada: true\nrt_rw: 05, 02",
                "context_id": "wamid.OUR_FLOW_1",
            }
        ],
    ),
    Case(
        "interactive_nfm_reply_address.json",
        messages=[
            {
                "kind": "text",
                "text": "name: Siti Rahmawati\nphone_number: 081234567890\nin_pin_code: 40111\n"
                "house_number: 12\naddress: Jl. Braga No. 12\ncity: Bandung\nstate: Jawa Barat",
            }
        ],
    ),
    Case(
        "interactive_nfm_reply_not_json.json",
        messages=[{"kind": "text", "text": "kategori=Infrastruktur; lokasi=Jl. Merdeka"}],
    ),
    Case("group_message.json", ignored=["a group message is not handled"]),
    Case("sender_not_a_number.json", ignored=["sender id is neither a phone number nor"]),
    Case("wa_id_not_a_number.json", ignored=["sender id is neither a phone number nor"]),
    Case("timestamp_not_a_number.json", ignored=["timestamp is not a number"]),
    Case("system_user_changed_number.json", ignored=["system notice 'user_changed_number'"]),
    Case("request_welcome.json", ignored=["request_welcome"]),
    Case("contacts_without_cards.json", ignored=["contacts message without a contact card"]),
    Case("text_empty.json", ignored=["text message without text"]),
    Case(
        "unsupported.json",
        messages=[{"kind": "unsupported", "provider_message_id": "wamid.UNSUP1", "sender": SITI}],
    ),
    Case("unknown_type.json", messages=[{"kind": "unsupported", "provider_message_id": "wamid.UNKNOWN1"}]),
    Case("order.json", messages=[{"kind": "unsupported", "provider_message_id": "wamid.ORDER1"}]),
    Case("reply_context.json", messages=[{"kind": "text", "context_id": "wamid.OUR_REPLY_1"}]),
    Case(
        "multi_entry.json",
        messages=[
            {"provider_message_id": "wamid.MULTI1", "sender": SITI, "sender_name": "Siti Rahmawati"},
            {
                "provider_message_id": "wamid.MULTI2",
                "sender": "whatsapp:+6285712345678",
                "sender_name": "Joko",
            },
            {"provider_message_id": "wamid.MULTI3", "text": "Pesan ketiga"},
        ],
        statuses=[{"provider_message_id": "wamid.OUT1", "status": "delivered", "recipient": SITI}],
    ),
    Case(
        "statuses_out_of_order.json",
        statuses=[
            {"provider_message_id": "wamid.OUT2", "status": "read"},
            {"provider_message_id": "wamid.OUT2", "status": "delivered"},
            {"provider_message_id": "wamid.OUT2", "status": "sent"},
        ],
    ),
    Case(
        "status_failed.json",
        statuses=[
            {
                "provider_message_id": "wamid.OUT3",
                "status": "failed",
                "error_code": "131047",
                "error_message_contains": "more than 24 hours",
                "recipient": SITI,
            }
        ],
    ),
    Case("status_unknown.json", ignored=["unknown status 'deleted'"]),
    Case(
        "bsuid_only.json",
        messages=[
            {
                "sender": "whatsapp:ID.13491208655302741918",
                "sender_name": "Dewi",
                "text": "Halo, saya mau lapor",
            }
        ],
    ),
    Case("bsuid_with_phone.json", messages=[{"sender": SITI, "sender_name": "Siti Rahmawati"}]),
    Case(
        "status_bsuid.json",
        statuses=[{"recipient": "whatsapp:ID.13491208655302741918", "status": "delivered"}],
    ),
    Case("empty_entry.json", ignored=["empty entry list"]),
    Case("other_field.json", ignored=["'account_update' is not handled"]),
    Case("other_phone_number.json", ignored=["not ours"]),
    Case("message_without_id.json", ignored=["message without id"]),
    Case(
        "duplicate_message.json",
        # Both copies are handed on: the store's unique (channel, provider id) drops the second.
        messages=[{"provider_message_id": "wamid.DUP1"}, {"provider_message_id": "wamid.DUP1"}],
    ),
    Case("wrong_object.json", raises=PayloadError),
    Case("not_an_object.json", raises=PayloadError),
    Case("malformed.json", raises=PayloadError),
]


def _check_context(message: InboundMessage, value: Any) -> None:
    assert message.raw["message"]["context"]["id"] == value


def check_message(message: InboundMessage, expected: dict[str, Any]) -> None:
    check(message, expected, {"context_id": _check_context})


def parse_file(name: str) -> ParseResult:
    body = (DATA / name).read_bytes()
    adapter = make_adapter(WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID)
    request = post(body, sign(body))
    adapter.verify(request)
    return adapter.parse(request)


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_parse(case: Case) -> None:
    if case.raises is not None:
        with pytest.raises(case.raises):
            parse_file(case.file)
        return
    result = parse_file(case.file)
    assert len(result.messages) == len(case.messages)
    for message, expected in zip(result.messages, case.messages, strict=True):
        assert message.channel == "whatsapp"
        check_message(message, expected)
    assert len(result.statuses) == len(case.statuses)
    for status, expected in zip(result.statuses, case.statuses, strict=True):
        assert status.channel == "whatsapp"
        for key, value in expected.items():
            if key == "error_message_contains":
                assert value in (status.error_message or "")
            else:
                assert getattr(status, key) == value, key
    assert len(result.ignored) == len(case.ignored), result.ignored
    for reason, expected_reason in zip(result.ignored, case.ignored, strict=True):
        assert expected_reason in reason
    assert result.response.status == 200


def test_every_testdata_file_has_a_case() -> None:
    assert {p.name for p in DATA.iterdir()} == {c.file for c in CASES}


def test_raw_keeps_message_contact_and_metadata() -> None:
    message = parse_file("image.json").messages[0]
    assert message.raw["message"]["image"]["sha256"].startswith("81d3bd8a")
    assert message.raw["contact"]["profile"]["name"] == "Siti Rahmawati"
    assert message.raw["metadata"]["phone_number_id"] == PHONE_NUMBER_ID


def test_raw_of_bsuid_message_keeps_username() -> None:
    message = parse_file("bsuid_only.json").messages[0]
    assert message.raw["contact"]["profile"]["username"] == "@dewi.s"


def test_unsupported_message_keeps_provider_error_words() -> None:
    message = parse_file("unsupported.json").messages[0]
    assert "Message type unknown" in message.text
    assert message.raw["message"]["errors"][0]["code"] == 131051


def test_status_table_maps_every_meta_word_onto_our_statuses() -> None:
    from adapters.base import DELIVERY_STATUSES

    assert set(STATUS_TABLE.values()) <= set(DELIVERY_STATUSES)
    assert STATUS_TABLE["failed"] == "failed"


def test_payload_error_names_the_reason() -> None:
    with pytest.raises(PayloadError, match="not valid JSON"):
        parse_file("malformed.json")
    with pytest.raises(PayloadError, match="'page'"):
        parse_file("wrong_object.json")


# -- simulate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["whatsapp:+6281234567890", "+6281234567890", "081234567890"])
def test_simulate_text_round_trips(sender: str) -> None:
    adapter = make_adapter()
    simulated = adapter.simulate(sender, "Lampu jalan mati 💡")
    assert (simulated.method, simulated.path) == ("POST", "/webhooks/whatsapp")
    request = post(simulated.body, simulated.headers["X-Hub-Signature-256"])
    adapter.verify(request)
    [message] = adapter.parse(request).messages
    assert (message.sender, message.kind, message.text) == (SITI, "text", "Lampu jalan mati 💡")
    assert message.provider_message_id.startswith("wamid.")


def test_simulate_photo_and_location() -> None:
    adapter = make_adapter()
    photo = adapter.simulate("+6281234567890", "foto", photo_url="https://example.org/a.jpg")
    [message] = adapter.parse(post(photo.body, photo.headers["X-Hub-Signature-256"])).messages
    assert message.kind == "image"
    assert message.attachments[0].media_id
    assert message.text == "foto"
    pin = adapter.simulate("+6281234567890", "", location=(-6.2, 106.8), message_id="wamid.FIXED")
    [message] = adapter.parse(post(pin.body, pin.headers["X-Hub-Signature-256"])).messages
    assert message.location is not None
    assert (message.location.latitude, message.location.longitude) == (-6.2, 106.8)
    assert message.provider_message_id == "wamid.FIXED"


def test_simulate_bsuid_sender() -> None:
    adapter = make_adapter()
    simulated = adapter.simulate("whatsapp:ID.13491208655302741918", "halo")
    [message] = adapter.parse(post(simulated.body, simulated.headers["X-Hub-Signature-256"])).messages
    assert message.sender == "whatsapp:ID.13491208655302741918"
    assert "from" not in message.raw["message"]


def test_simulate_needs_the_app_secret() -> None:
    adapter = make_adapter(WHATSAPP_APP_SECRET="")
    with pytest.raises(SignatureError):
        adapter.simulate("+6281234567890", "halo")


# -- through the real webhook: ignored shapes store nothing, refused ones say why ------------------
GATEWAY_SECRET = "meta-app-secret"  # WHATSAPP_APP_SECRET of the test settings (tests/conftest.py)


def _post_to_gateway(client: Any, name: str) -> Any:
    body = (DATA / name).read_bytes()
    return client.post(
        "/webhooks/whatsapp",
        data=body,
        headers={"X-Hub-Signature-256": sign(body, GATEWAY_SECRET), "Content-Type": "application/json"},
    )


def _stored_texts(runtime: Any) -> list[str]:
    from sqlalchemy import select

    from gateway.store.models import Message

    with runtime.db.session() as session:
        return list(session.scalars(select(Message.text)).all())


@pytest.mark.parametrize(
    "name",
    [
        "group_message.json",
        "sender_not_a_number.json",
        "timestamp_not_a_number.json",
        "system_user_changed_number.json",
        "reaction_removed.json",
    ],
)
def test_webhook_answers_an_ignored_shape_200_and_stores_nothing(
    client: Any, runtime: Any, name: str
) -> None:
    res = _post_to_gateway(client, name)
    assert res.status_code == 200
    assert _stored_texts(runtime) == []


def test_webhook_refuses_another_object_with_the_reason(client: Any, runtime: Any) -> None:
    res = _post_to_gateway(client, "wrong_object.json")
    assert res.status_code == 400
    assert "not 'whatsapp_business_account'" in res.get_json()["error"]["message"]
    assert _stored_texts(runtime) == []


def test_webhook_stores_a_flow_reply_as_readable_text(client: Any, runtime: Any) -> None:
    assert _post_to_gateway(client, "interactive_nfm_reply_flow.json").status_code == 200
    [text] = _stored_texts(runtime)
    assert text.startswith("kategori: Infrastruktur\nlokasi: Jl. Merdeka No. 5, Bandung")
    assert "flow_token" not in text
