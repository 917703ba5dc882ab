"""A message delivered after a retry does not keep the reason its first attempt failed.

A reply refused by WhatsApp for the closed 24-hour window (Meta's ``failed`` status, error
131047) is resent by SMS (no template is configured here); the aggregator's ``delivered``
receipt for the resend must leave no failure on the row. Receipts are posted as Meta and
Vonage post them, signed with their secrets.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from adapters.sms.signature import vonage_signature
from gateway.devtools.loopback.meta import signed_body
from gateway.store.models import Message
from tests.gateway.test_conversation_e2e import Citizen

NUMBER = "6281234567120"


def _status(message_id: str, status: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": "1718000400",
        "recipient_id": NUMBER,
    }
    if status != "failed":
        item["conversation"] = {"id": "c0ffee", "origin": {"type": "utility"}}
        item["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "utility"}
    if errors:
        item["errors"] = errors
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "6281100001708",
                                "phone_number_id": "106540352242922",
                            },
                            "statuses": [item],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def _post(client: Any, body: dict[str, Any]) -> None:
    raw, signature = signed_body("meta-app-secret", body)
    res = client.post(
        "/webhooks/whatsapp",
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert res.status_code == 200, res.get_data(as_text=True)


def _vonage_receipt(client: Any, message_id: str) -> None:
    """A Vonage delivery receipt (DLR) as the aggregator posts it, signed (md5hash)."""
    params = {
        "msisdn": NUMBER,
        "to": "1708",
        "network-code": "51010",
        "messageId": message_id,
        "price": "0.03330000",
        "status": "delivered",
        "scts": "2406101200",
        "err-code": "0",
        "api-key": "test-key",
        "message-timestamp": "2024-06-10 12:00:05",
        "timestamp": "1718020805",
        "nonce": "6fcbd8a3-2d5b-4b07-9a3e-3f2b7c1f5e11",
    }
    params["sig"] = vonage_signature(params, "sms-signing-secret", "md5hash")
    res = client.post("/webhooks/sms/status", json=params)
    assert res.status_code == 200, res.get_data(as_text=True)


def test_delivery_after_a_window_retry_clears_the_failure(client: Any, runtime: Any, drain: Any) -> None:
    citizen = Citizen(client, runtime, drain, "whatsapp", f"+{NUMBER}")
    citizen.says("Lampu jalan mati di depan masjid Al-Ikhlas sejak seminggu")
    with runtime.db.session() as session:
        reply = session.scalars(select(Message).where(Message.direction == "out")).first()
        assert reply is not None and reply.provider_message_id
        reply_id, first_pid = reply.id, reply.provider_message_id
    refused = {
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {"details": "More than 24 hours have passed since the customer last replied."},
    }
    _post(client, _status(first_pid, "failed", [refused]))
    drain()
    with runtime.db.session() as session:
        row = session.get(Message, reply_id)
        assert row is not None and row.provider_message_id != first_pid, json.dumps(row.payload)
        assert row.channel == "sms" and row.provider_message_id
        resent_pid = row.provider_message_id
    _vonage_receipt(client, resent_pid)
    with runtime.db.session() as session:
        row = session.get(Message, reply_id)
        assert row is not None
        assert row.delivery_status == "delivered"
        assert (row.failure_reason, row.error_code) == (None, None)
