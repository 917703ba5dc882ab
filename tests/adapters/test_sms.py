"""SMS aggregator adapter: signatures, inbound messages and delivery receipts over payload files.

Payload files under testdata/sms/ are written from Vonage's SMS API webhook
reference (inbound as GET query, POST form and POST JSON; delivery receipts) and
Infobip's forwarding formats (inbound results, delivery reports). Vonage bodies are
signed here by `spec_sign`, written straight from Vonage's "signing messages" guide
and independent of the adapter's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from adapters.base import PayloadError, Segment, SignatureError, WebhookRequest
from adapters.sms import SmsAdapter
from adapters.sms.adapter import INFOBIP_STATUS_TABLE, VONAGE_DLR_TABLE

DATA = Path(__file__).parent / "testdata" / "sms"
SECRET = "sms-signature-secret"
PUBLIC = "https://lapor.example.id"


def spec_sign(params: dict[str, str], secret: str, method: str = "md5hash") -> str:
    """Vonage's documented scheme: sorted &key=value (& and = in values -> _), then MD5 or HMAC."""
    query = "".join(
        "&" + key + "=" + params[key].replace("&", "_").replace("=", "_")
        for key in sorted(params)
        if key != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((query + secret).encode(), usedforsecurity=False).hexdigest()
    return hmac.new(secret.encode(), query.encode(), method).hexdigest().upper()


def make_adapter(**overrides: str) -> SmsAdapter:
    env = {"SMS_SIGNATURE_SECRET": SECRET, "PUBLIC_BASE_URL": PUBLIC, **overrides}
    adapter = SmsAdapter.from_env(env)
    assert adapter is not None
    return adapter


def vonage_request(
    name: str,
    path: str = "/webhooks/sms",
    *,
    secret: str = SECRET,
    method: str = "md5hash",
    sign: bool = True,
    change: dict[str, str] | None = None,
) -> WebhookRequest:
    """The payload file as Vonage would send it, in the file's transport (query, form or JSON)."""
    file = DATA / name
    raw = file.read_text().strip()
    params = json.loads(raw) if file.suffix == ".json" else dict(parse_qsl(raw, keep_blank_values=True))
    if sign:
        params["sig"] = spec_sign(params, secret, method)
    params.update(change or {})
    if file.suffix == ".query":
        query = tuple(params.items())
        return WebhookRequest("GET", f"{PUBLIC}{path}?{urlencode(query)}", path, {}, b"", query=query)
    if file.suffix == ".form":
        body = urlencode(params).encode()
        headers = {"content-type": "application/x-www-form-urlencoded"}
        return WebhookRequest("POST", PUBLIC + path, path, headers, body, form=tuple(params.items()))
    body = json.dumps(params).encode()
    return WebhookRequest("POST", PUBLIC + path, path, {"content-type": "application/json"}, body)


def raw_request(
    body: bytes, path: str = "/webhooks/sms", headers: dict[str, str] | None = None
) -> WebhookRequest:
    return WebhookRequest(
        "POST", PUBLIC + path, path, {"content-type": "application/json", **(headers or {})}, body
    )


def infobip_request(name: str, path: str = "/webhooks/sms", *, secret: str = SECRET) -> WebhookRequest:
    body = (DATA / name).read_bytes()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return raw_request(body, path, {"x-lapor-signature": signature})


# -- from_env ------------------------------------------------------------------------------
def test_channel_off_without_secret() -> None:
    assert SmsAdapter.from_env({"SMS_API_KEY": "k"}) is None
    assert SmsAdapter.from_env({"SMS_SIGNATURE_SECRET": "  "}) is None


def test_from_env_defaults_and_settings() -> None:
    adapter = make_adapter()
    assert (adapter.profile, adapter.shortcode, adapter.max_segments) == ("vonage", "1708", 3)
    assert adapter.max_text_length == 459
    assert adapter.menu_style == "numbered"
    assert adapter.api_base_url == "https://rest.nexmo.com"
    other = make_adapter(
        SMS_PROFILE="infobip", SMS_SHORTCODE="1717", SMS_MAX_SEGMENTS="1", SMS_API_BASE_URL="http://x/"
    )
    assert (other.profile, other.shortcode, other.max_text_length, other.api_base_url) == (
        "infobip",
        "1717",
        160,
        "http://x",
    )
    assert make_adapter(SMS_MAX_SEGMENTS="2").max_text_length == 306


@pytest.mark.parametrize("env", [{"SMS_PROFILE": "twilio"}, {"SMS_SIGNATURE_METHOD": "crc32"}])
def test_from_env_rejects_unknown_choices(env: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        make_adapter(**env)


# -- Vonage inbound --------------------------------------------------------------------------
VONAGE_MESSAGES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "GET query",
        "vonage_get.query",
        {
            "provider_message_id": "1A00000000000001",
            "sender": "tel:+6281234567890",
            "recipient": "sms:1708",
            "text": "LAPOR jalan berlubang di Jl. Sudirman",
            "kind": "text",
            "timestamp": datetime(2024, 6, 1, 3, 4, 5, tzinfo=UTC),
            "segment": None,
        },
    ),
    (
        "POST form",
        "vonage_post.form",
        {"text": "LAPOR sampah tidak diangkut 3 hari", "sender": "tel:+6281234567890"},
    ),
    (
        "POST JSON",
        "vonage_json.json",
        {"provider_message_id": "1A00000000000003", "text": "LAPOR lampu PJU mati"},
    ),
    ("unicode with emoji", "vonage_unicode_emoji.json", {"text": "Banjir lagi 😭🌊 tolong", "kind": "text"}),
    ("& and = inside the text", "vonage_text_with_separators.json", {"text": "nilai=5 & nomor=12 a&b=c"}),
    ("binary is unsupported, kept raw", "vonage_binary.json", {"kind": "unsupported", "text": ""}),
    (
        "concatenated part",
        "vonage_concat_part2.json",
        {"segment": Segment(reference="42", total=3, number=2), "provider_message_id": "1B00000000000002"},
    ),
]


@pytest.mark.parametrize(("label", "name", "expected"), VONAGE_MESSAGES, ids=[c[0] for c in VONAGE_MESSAGES])
def test_vonage_inbound(label: str, name: str, expected: dict[str, Any]) -> None:
    adapter = make_adapter()
    request = vonage_request(name)
    adapter.verify(request)
    result = adapter.parse(request)
    assert result.statuses == []
    [message] = result.messages
    assert message.channel == "sms"
    for field, value in expected.items():
        assert getattr(message, field) == value, field
    assert message.raw["messageId"] == message.provider_message_id
    assert result.response.status == 200


def test_vonage_1600_characters_kept_whole() -> None:
    request = vonage_request("vonage_long_1600.json")
    message = make_adapter().parse(request).messages[0]
    assert len(message.text) == 1600
    assert message.text == json.loads((DATA / "vonage_long_1600.json").read_text())["text"]


@pytest.mark.parametrize(
    ("msisdn", "sender"),
    [
        ("6281234567890", "tel:+6281234567890"),
        ("081234567890", "tel:+6281234567890"),
        ("+62 812-3456-7890", "tel:+6281234567890"),
        ("0062812345678 90", "tel:+6281234567890"),
        ("1708", "sms:1708"),
        ("INFO", "sms:INFO"),
    ],
    ids=["62 without plus", "local 08", "spaced and dashed", "00 prefix", "shortcode", "alphanumeric"],
)
def test_vonage_sender_shapes(msisdn: str, sender: str) -> None:
    request = vonage_request("vonage_json.json", change={"msisdn": msisdn}, sign=False)
    assert make_adapter().parse(request).messages[0].sender == sender


VONAGE_MALFORMED = [
    ("no msisdn", "vonage_missing_msisdn.json", "msisdn"),
    ("no messageId", "vonage_missing_message_id.json", "messageId"),
    ("concat-part not a number", "vonage_concat_bad_part.json", "concat-part"),
    ("concat-part beyond total", "vonage_concat_part_out_of_range.json", "concat-part"),
    ("concat-total beyond 255 parts", "vonage_concat_total_too_large.json", "concat-total"),
    ("DLR without messageId", "vonage_dlr_missing_message_id.json", "messageId"),
]


@pytest.mark.parametrize(("label", "name", "reason"), VONAGE_MALFORMED, ids=[c[0] for c in VONAGE_MALFORMED])
def test_vonage_malformed(label: str, name: str, reason: str) -> None:
    adapter = make_adapter()
    path = "/webhooks/sms/status" if "dlr" in name else "/webhooks/sms"
    request = vonage_request(name, path)
    adapter.verify(request)
    with pytest.raises(PayloadError, match=reason):
        adapter.parse(request)


@pytest.mark.parametrize("name", ["vonage_bad_json.txt", "vonage_json_array.json"])
def test_vonage_unreadable_json_is_a_payload_error(name: str) -> None:
    request = raw_request((DATA / name).read_bytes())
    with pytest.raises(PayloadError, match="JSON"):
        make_adapter().verify(request)
    with pytest.raises(PayloadError, match="JSON"):
        make_adapter().parse(request)


# -- Vonage delivery receipts -------------------------------------------------------------------
VONAGE_DLRS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "delivered",
        "vonage_dlr_delivered.json",
        {
            "provider_message_id": "0C00000012345678",
            "status": "delivered",
            "error_code": None,
            "recipient": "tel:+6281234567890",
            "timestamp": datetime(2024, 6, 1, 12, 30, 45, tzinfo=UTC),
        },
    ),
    ("accepted by the carrier (form)", "vonage_dlr_accepted.form", {"status": "sent"}),
    (
        "failed: blocked by carrier (GET)",
        "vonage_dlr_failed_barred.query",
        {"status": "failed", "error_code": "14", "error_message": "number blocked by carrier"},
    ),
    ("expired", "vonage_dlr_expired.json", {"status": "failed", "error_code": "2"}),
    ("rejected", "vonage_dlr_rejected.json", {"status": "failed", "error_code": "6"}),
]


@pytest.mark.parametrize(("label", "name", "expected"), VONAGE_DLRS, ids=[c[0] for c in VONAGE_DLRS])
def test_vonage_delivery_receipts(label: str, name: str, expected: dict[str, Any]) -> None:
    adapter = make_adapter()
    request = vonage_request(name, "/webhooks/sms/status")
    adapter.verify(request)
    result = adapter.parse(request)
    assert result.messages == []
    [update] = result.statuses
    for field, value in expected.items():
        assert getattr(update, field) == value, field


def test_vonage_dlr_recognised_on_main_path() -> None:
    result = make_adapter().parse(vonage_request("vonage_dlr_delivered.json"))
    assert [s.status for s in result.statuses] == ["delivered"]


def test_vonage_unknown_dlr_is_ignored() -> None:
    result = make_adapter().parse(vonage_request("vonage_dlr_unknown.json", "/webhooks/sms/status"))
    assert result.statuses == [] and result.messages == []
    assert "unknown" in result.ignored[0]


def test_dlr_tables_map_onto_delivery_statuses() -> None:
    from adapters.base import DELIVERY_STATUSES

    assert set(VONAGE_DLR_TABLE.values()) <= set(DELIVERY_STATUSES)
    assert set(INFOBIP_STATUS_TABLE.values()) <= set(DELIVERY_STATUSES)
    for word in ("delivered", "expired", "failed", "rejected", "accepted", "buffered"):
        assert word in VONAGE_DLR_TABLE


# -- Vonage signatures --------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["md5hash", "md5", "sha1", "sha256", "sha512"])
def test_vonage_signature_methods(method: str) -> None:
    adapter = make_adapter(SMS_SIGNATURE_METHOD=method)
    for name in (
        "vonage_get.query",
        "vonage_post.form",
        "vonage_json.json",
        "vonage_text_with_separators.json",
    ):
        adapter.verify(vonage_request(name, method=method))
    other = "sha256" if method != "sha256" else "sha1"
    with pytest.raises(SignatureError):
        adapter.verify(vonage_request("vonage_json.json", method=other))


def test_vonage_signature_hex_case_ignored() -> None:
    request = vonage_request("vonage_json.json")
    params = json.loads(request.body)
    params["sig"] = params["sig"].upper()
    make_adapter().verify(raw_request(json.dumps(params).encode()))


@pytest.mark.parametrize(
    ("label", "kwargs"),
    [
        ("missing sig", {"sign": False}),
        ("wrong secret", {"secret": "not-the-secret"}),
        ("text changed after signing", {"change": {"text": "LAPOR semua beres"}}),
        ("sender changed after signing", {"change": {"msisdn": "6289999999999"}}),
        ("empty sig", {"sign": False, "change": {"sig": ""}}),
    ],
)
def test_vonage_signature_rejected(label: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(SignatureError):
        make_adapter().verify(vonage_request("vonage_json.json", **kwargs))


def test_vonage_signature_freshness_when_enabled() -> None:
    adapter = make_adapter(SMS_SIGNATURE_MAX_AGE="300")
    with pytest.raises(SignatureError, match="old"):
        adapter.verify(vonage_request("vonage_json.json"))  # the file's timestamp is from 2024
    fresh = vonage_request("vonage_json.json", sign=False, change={"timestamp": str(int(time.time()))})
    params = json.loads(fresh.body)
    params["sig"] = spec_sign(params, SECRET)
    adapter.verify(raw_request(json.dumps(params).encode()))


# -- Infobip -------------------------------------------------------------------------------------
def test_infobip_inbound_batch() -> None:
    adapter = make_adapter(SMS_PROFILE="infobip")
    request = infobip_request("infobip_inbound.json")
    adapter.verify(request)
    result = adapter.parse(request)
    assert [m.provider_message_id for m in result.messages] == ["817790313235066447", "817790313235066448"]
    first, second = result.messages
    assert first.sender == "tel:+6281234567890"
    assert first.recipient == "sms:1708"
    assert first.text == "LAPOR Pungli di kantor kecamatan"  # the full text, keyword included
    assert first.timestamp == datetime(2024, 6, 1, 3, 4, 5, 123000, tzinfo=UTC)
    assert second.sender == "tel:+6285712345678"
    assert second.text == "Air PDAM mati 😤"
    assert first.raw["cleanText"] == "Pungli di kantor kecamatan"


def test_infobip_long_sms_arrives_whole() -> None:
    """Infobip joins a long SMS's parts itself (``smsCount`` says how many): one message, no
    segment, nothing for the gateway to wait for."""
    adapter = make_adapter(SMS_PROFILE="infobip")
    request = infobip_request("infobip_inbound_long.json")
    adapter.verify(request)
    [message] = adapter.parse(request).messages
    assert message.segment is None
    assert len(message.text) > 160
    assert message.text.endswith("jatuh ke sungai.")
    assert message.raw["smsCount"] == 2


def test_infobip_bad_items_skipped_good_kept() -> None:
    result = make_adapter(SMS_PROFILE="infobip").parse(infobip_request("infobip_inbound_partly_bad.json"))
    assert [m.provider_message_id for m in result.messages] == ["817790313235066450"]
    assert len(result.ignored) == 2
    assert "from" in result.ignored[0]


@pytest.mark.parametrize(
    ("name", "reason"),
    [("infobip_inbound_all_bad.json", "messageId"), ("infobip_no_results.json", "results")],
)
def test_infobip_malformed(name: str, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        make_adapter(SMS_PROFILE="infobip").parse(infobip_request(name))


def test_infobip_bad_json() -> None:
    with pytest.raises(PayloadError, match="JSON"):
        make_adapter(SMS_PROFILE="infobip").parse(raw_request(b"{nope"))


def test_infobip_delivery_reports() -> None:
    adapter = make_adapter(SMS_PROFILE="infobip")
    request = infobip_request("infobip_dlr.json", "/webhooks/sms/status")
    adapter.verify(request)
    delivered, undeliverable, pending = adapter.parse(request).statuses
    assert (delivered.status, delivered.error_code, delivered.recipient) == (
        "delivered",
        None,
        "tel:+6281234567890",
    )
    assert delivered.timestamp == datetime(2024, 6, 1, 12, 30, 5, tzinfo=UTC)
    assert (undeliverable.status, undeliverable.error_code) == ("failed", "EC_ABSENT_SUBSCRIBER")
    assert undeliverable.error_message == "Absent Subscriber"
    assert pending.status == "sent"


def test_infobip_dlr_recognised_on_main_path() -> None:
    result = make_adapter(SMS_PROFILE="infobip").parse(infobip_request("infobip_dlr.json"))
    assert len(result.statuses) == 3 and result.messages == []


@pytest.mark.parametrize(
    ("label", "headers"),
    [
        ("missing header", {}),
        ("wrong secret", {"x-lapor-signature": "sha256=" + "0" * 64}),
        ("bare hex without prefix", None),
    ],
)
def test_infobip_signature_rejected(label: str, headers: dict[str, str] | None) -> None:
    body = (DATA / "infobip_inbound.json").read_bytes()
    if headers is None:
        headers = {"x-lapor-signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}
    with pytest.raises(SignatureError):
        make_adapter(SMS_PROFILE="infobip").verify(raw_request(body, headers=headers))


def test_infobip_signature_covers_the_body() -> None:
    good = infobip_request("infobip_inbound.json")
    tampered = raw_request(good.body.replace(b"Pungli", b"Pujian"), headers=dict(good.headers))
    with pytest.raises(SignatureError):
        make_adapter(SMS_PROFILE="infobip").verify(tampered)


# -- simulate -------------------------------------------------------------------------------------
def _replay(simulated: Any) -> WebhookRequest:
    headers = {k.lower(): v for k, v in simulated.headers.items()}
    return WebhookRequest(simulated.method, PUBLIC + simulated.path, simulated.path, headers, simulated.body)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"SMS_SIGNATURE_METHOD": "sha256"},
        {"SMS_SIGNATURE_METHOD": "sha512", "SMS_SIGNATURE_MAX_AGE": "60"},
        {"SMS_PROFILE": "infobip"},
    ],
    ids=["vonage md5hash", "vonage sha256", "vonage sha512 fresh", "infobip"],
)
def test_simulate_round_trip(env: dict[str, str]) -> None:
    adapter = make_adapter(**env)
    simulated = adapter.simulate("0812-3456-7890", "LAPOR jembatan ambruk 😱", message_id="SIM-1")
    assert (simulated.method, simulated.path) == ("POST", "/webhooks/sms")
    request = _replay(simulated)
    adapter.verify(request)
    [message] = adapter.parse(request).messages
    assert message.sender == "tel:+6281234567890"
    assert message.recipient == "sms:1708"
    assert message.text == "LAPOR jembatan ambruk 😱"
    assert message.provider_message_id == "SIM-1"


def test_simulate_vonage_type_follows_alphabet() -> None:
    adapter = make_adapter()
    assert json.loads(adapter.simulate("+6281234567890", "halo").body)["type"] == "text"
    assert json.loads(adapter.simulate("+6281234567890", "halo 😀").body)["type"] == "unicode"
    params = json.loads(adapter.simulate("+6281234567890", "a=b&c").body)
    assert params["sig"] == spec_sign(params, SECRET)
