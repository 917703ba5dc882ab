"""Delivery receipts posted by the SMS and Meta stand-ins: Vonage's, Infobip's and Meta's shapes,
signed so that the real adapters' `verify` accepts them and `parse` reads them as statuses.

A plain LoopbackProvider plays the gateway and records what arrives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from adapters.base import OutboundMessage, SignatureError, Template, WebhookRequest
from adapters.sms import SmsAdapter
from adapters.whatsapp import WhatsAppCloudAdapter
from gateway.devtools.loopback.meta import MetaStandIn
from gateway.devtools.loopback.server import LoopbackProvider, RecordedRequest, Reply
from gateway.devtools.loopback.sms import SmsStandIn

SIG_SECRET = "sms-signing-secret"
APP_SECRET = "meta-app-secret"
PHONE_NUMBER_ID = "106540352242922"


@pytest.fixture
def receiver() -> Iterator[LoopbackProvider]:
    with LoopbackProvider() as server:
        server.handle = lambda request: Reply(200, "")  # type: ignore[method-assign]
        yield server


def as_webhook(receiver: LoopbackProvider, request: RecordedRequest) -> WebhookRequest:
    return WebhookRequest(
        request.method, receiver.base_url + request.path, request.path, request.headers, request.body
    )


# -- SMS --------------------------------------------------------------------------------------
def sms_adapter(server: SmsStandIn, receiver: LoopbackProvider, profile: str, **env: str) -> SmsAdapter:
    adapter = SmsAdapter.from_env(
        {
            "SMS_SIGNATURE_SECRET": SIG_SECRET,
            "SMS_PROFILE": profile,
            "SMS_API_BASE_URL": server.base_url,
            "SMS_API_KEY": "key",
            "SMS_API_SECRET": "secret",
            "PUBLIC_BASE_URL": receiver.base_url,
            **env,
        }
    )
    assert adapter is not None
    return adapter


@pytest.mark.parametrize("method", ["md5hash", "sha256"])
def test_vonage_receipt_per_part_signed_and_read(receiver: LoopbackProvider, method: str) -> None:
    with SmsStandIn(
        api_key="key",
        api_secret="secret",
        delivery_receipts=True,
        signature_secret=SIG_SECRET,
        signature_method=method,
    ) as server:
        assert isinstance(server, SmsStandIn)
        adapter = sms_adapter(server, receiver, "vonage", SMS_SIGNATURE_METHOD=method)
        text = "Laporan Anda sudah kami terima dan diteruskan ke dinas terkait. " * 4  # two parts
        result = adapter.send(
            OutboundMessage(channel="sms", to="tel:+6281234567890", text=text, reference="r1")
        )
        receipts = receiver.wait_for(2, timeout=5)
        assert len(receipts) == 2 and server.callback_errors == []
    assert {r.path for r in receipts} == {"/webhooks/sms/status"}
    body = receipts[0].json()
    assert set(body) == {
        "msisdn", "to", "network-code", "messageId", "price", "status", "scts", "err-code",
        "api-key", "client-ref", "message-timestamp", "timestamp", "nonce", "sig",
    }  # fmt: skip
    assert (body["msisdn"], body["to"], body["api-key"], body["client-ref"]) == (
        "6281234567890",
        "1708",
        "key",
        "r1",
    )
    statuses = []
    for receipt in receipts:
        request = as_webhook(receiver, receipt)
        adapter.verify(request)
        statuses += adapter.parse(request).statuses
    ids = {result.provider_message_id, *result.extra_ids}
    assert {s.provider_message_id for s in statuses} == ids
    assert {(s.status, s.recipient) for s in statuses} == {("delivered", "tel:+6281234567890")}
    tampered = as_webhook(receiver, receipts[0])
    tampered = WebhookRequest(
        tampered.method,
        tampered.url,
        tampered.path,
        tampered.headers,
        tampered.body.replace(b"delivered", b"failed"),
    )
    with pytest.raises(SignatureError):
        adapter.verify(tampered)


def test_infobip_report_signed_and_read(receiver: LoopbackProvider) -> None:
    with SmsStandIn(api_key="key", delivery_receipts=True, signature_secret=SIG_SECRET) as server:
        assert isinstance(server, SmsStandIn)
        adapter = sms_adapter(server, receiver, "infobip")
        result = adapter.send(
            OutboundMessage(channel="sms", to="tel:+6281234567890", text="Halo", reference="r2")
        )
        receipts = receiver.wait_for(1, timeout=5)
        assert len(receipts) == 1 and server.callback_errors == []
    report = receipts[0].json()["results"][0]
    assert report["status"]["groupName"] == "DELIVERED" and report["error"]["id"] == 0
    assert (report["messageId"], report["to"], report["callbackData"]) == (
        result.provider_message_id,
        "6281234567890",
        "r2",
    )
    request = as_webhook(receiver, receipts[0])
    adapter.verify(request)
    [status] = adapter.parse(request).statuses
    assert (status.provider_message_id, status.status) == (result.provider_message_id, "delivered")
    assert status.timestamp is not None


def test_receipts_need_the_signature_secret() -> None:
    with pytest.raises(ValueError, match="signature_secret"):
        SmsStandIn(delivery_receipts=True)


def test_no_callback_url_no_receipt(receiver: LoopbackProvider) -> None:
    with SmsStandIn(api_key="key", delivery_receipts=True, signature_secret=SIG_SECRET) as server:
        assert isinstance(server, SmsStandIn)
        adapter = sms_adapter(server, receiver, "infobip")
        adapter.send(OutboundMessage(channel="sms", to="tel:+6281234567890", text="Halo"))
        payload = server.requests[0].json()
        del payload["messages"][0]["notifyUrl"]
        server.clear()
        requests.post(
            server.base_url + "/sms/2/text/advanced",
            json=payload,
            headers={"Authorization": "App key"},
            timeout=5,
        )
        assert len(receiver.wait_for(2, timeout=0.5)) == 1  # only the first send's report


# -- WhatsApp Cloud API -----------------------------------------------------------------------
def meta_adapter(meta: MetaStandIn) -> WhatsAppCloudAdapter:
    adapter = WhatsAppCloudAdapter.from_env(
        {
            "WHATSAPP_ACCESS_TOKEN": "token",
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_API_BASE_URL": meta.api_base_url,
        }
    )
    assert adapter is not None
    return adapter


def meta_statuses(receiver: LoopbackProvider, adapter: WhatsAppCloudAdapter, count: int) -> list[Any]:
    arrived = receiver.wait_for(count, timeout=5)
    assert len(arrived) == count
    bodies = []
    for request in arrived:
        webhook = as_webhook(receiver, request)
        adapter.verify(webhook)  # X-Hub-Signature-256 with the app secret
        parsed = adapter.parse(webhook)
        assert parsed.ignored == [] and len(parsed.statuses) == 1
        bodies.append((json.loads(request.body), parsed.statuses[0]))
    return bodies


def test_meta_posts_sent_delivered_read_as_documented(receiver: LoopbackProvider) -> None:
    with MetaStandIn(
        "token", PHONE_NUMBER_ID, webhook_url=receiver.base_url + "/webhooks/whatsapp", app_secret=APP_SECRET
    ) as meta:
        assert isinstance(meta, MetaStandIn)
        adapter = meta_adapter(meta)
        result = adapter.send(
            OutboundMessage(channel="whatsapp", to="whatsapp:+6281234567890", text="Halo", reference="ref-7")
        )
        arrived = meta_statuses(receiver, adapter, 3)
        assert meta.callback_errors == []
    words = [update.status for _, update in arrived]
    assert words == ["sent", "delivered", "read"]
    for body, update in arrived:
        assert body["object"] == "whatsapp_business_account"
        [entry] = body["entry"]
        [change] = entry["changes"]
        assert change["field"] == "messages"
        value = change["value"]
        assert value["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
        assert set(value) == {"messaging_product", "metadata", "statuses"}
        [status] = value["statuses"]
        assert status["id"] == result.provider_message_id == update.provider_message_id
        assert status["recipient_id"] == "6281234567890" and update.recipient == "whatsapp:+6281234567890"
        assert status["biz_opaque_callback_data"] == "ref-7"
        assert status["timestamp"].isdigit()
        if status["status"] == "read":
            assert "conversation" not in status and "pricing" not in status
        else:
            assert status["pricing"] == {
                "billable": False,
                "pricing_model": "PMP",
                "type": "free_customer_service",
                "category": "service",
            }
            assert status["conversation"]["origin"] == {"type": "service"}
            assert ("expiration_timestamp" in status["conversation"]) == (status["status"] == "sent")


def test_meta_template_to_a_closed_window_is_billed_utility(receiver: LoopbackProvider) -> None:
    with MetaStandIn(
        "token", PHONE_NUMBER_ID, webhook_url=receiver.base_url + "/webhooks/whatsapp", app_secret=APP_SECRET
    ) as meta:
        assert isinstance(meta, MetaStandIn)
        meta.close_window("6281234567890")
        adapter = meta_adapter(meta)
        template = Template("lapor_update", "id", ("Laporan selesai",))
        adapter.send(
            OutboundMessage(channel="whatsapp", to="whatsapp:+6281234567890", text="", template=template)
        )
        body, _ = meta_statuses(receiver, adapter, 3)[0]
    pricing = body["entry"][0]["changes"][0]["value"]["statuses"][0]["pricing"]
    assert pricing == {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}


def test_meta_without_webhook_posts_nothing(receiver: LoopbackProvider) -> None:
    with MetaStandIn("token", PHONE_NUMBER_ID) as meta:
        assert isinstance(meta, MetaStandIn)
        meta_adapter(meta).send(
            OutboundMessage(channel="whatsapp", to="whatsapp:+6281234567890", text="Halo")
        )
    assert receiver.wait_for(1, timeout=0.3) == []
    with pytest.raises(ValueError, match="webhook_url and app_secret"):
        MetaStandIn("token", PHONE_NUMBER_ID, webhook_url="http://127.0.0.1:1/webhooks/whatsapp")
