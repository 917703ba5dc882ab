"""The walking skeleton on the SMS channel: webhook -> storage -> worker -> aggregator -> receipt."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from adapters.sms import SmsAdapter
from adapters.sms.signature import vonage_signature
from gateway.store.models import Job, Message


def post_simulated(client: Any, adapter: Any, sender: str, text: str, message_id: str | None = None) -> Any:
    req = adapter.simulate(sender, text, message_id=message_id)
    return client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)


def count(runtime: Any, *where: Any) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count(Message.id)).where(*where)) or 0)


def test_signed_sms_is_stored_processed_and_answered(
    client: Any, runtime: Any, drain: Any, providers: dict[str, Any]
) -> None:
    adapter = SmsAdapter.from_env(runtime.settings.env)
    response = post_simulated(
        client, adapter, "081234567890", "Jalan berlubang besar di depan pasar", "msg-1"
    )
    assert response.status_code == 200
    with runtime.db.session() as session:
        stored = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert len(stored) == 1
        assert stored[0].address == "tel:+6281234567890"
        assert stored[0].raw["payload"]  # the provider's payload is kept
        assert session.scalar(select(func.count(Job.id)).where(Job.kind == "process_inbound")) == 1
    drain()
    sent = providers["sms"].wait_for(1, timeout=5, path_contains="/sms/json")
    assert len(sent) >= 1
    form = sent[0].form()
    assert form["to"] == "6281234567890"
    assert form["from"] == "1708"
    with runtime.db.session() as session:
        reply = session.scalars(select(Message).where(Message.direction == "out")).first()
        assert reply is not None
        assert reply.delivery_status == "sent"
        assert reply.provider_message_id
        provider_id = reply.provider_message_id
    # The aggregator's delivery receipt updates the reply.
    receipt = {
        "msisdn": "6281234567890",
        "to": "1708",
        "messageId": provider_id,
        "status": "delivered",
        "err-code": "0",
        "message-timestamp": "2026-11-23 10:00:00",
        "timestamp": "1795428000",
        "nonce": "7c1d2e",
    }
    receipt["sig"] = vonage_signature(receipt, runtime.settings.env["SMS_SIGNATURE_SECRET"])
    res = client.post("/webhooks/sms/status", data=receipt)
    assert res.status_code == 200
    with runtime.db.session() as session:
        reply = session.scalars(select(Message).where(Message.direction == "out")).first()
        assert reply.delivery_status == "delivered"


def test_same_provider_message_twice_is_one_message_and_one_reply(
    client: Any, runtime: Any, drain: Any, providers: dict[str, Any]
) -> None:
    adapter = SmsAdapter.from_env(runtime.settings.env)
    for _ in range(3):
        assert (
            post_simulated(client, adapter, "081234567890", "Sampah menumpuk di pasar", "dup-1").status_code
            == 200
        )
    assert count(runtime, Message.direction == "in") == 1
    drain()
    drain()
    assert count(runtime, Message.direction == "out") == 1
    assert len(providers["sms"].requests) == 1


def test_wrong_signature_is_refused_and_nothing_stored(client: Any, runtime: Any) -> None:
    adapter = SmsAdapter.from_env(runtime.settings.env)
    req = adapter.simulate("081234567890", "Halo", message_id="bad-sig")
    body = req.body.replace(b"Halo", b"Hallo")
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=body)
    assert res.status_code == 403
    assert count(runtime) == 0


def test_malformed_body_gets_400_with_reason(client: Any, runtime: Any) -> None:
    res = client.post("/webhooks/sms", data="not a form", content_type="application/json")
    assert res.status_code in (400, 403)
    assert count(runtime) == 0


def test_database_down_answers_503_so_the_provider_retries(runtime: Any, settings: Any) -> None:
    from dataclasses import replace

    from gateway.app import create_app
    from gateway.runtime import Runtime

    broken = Runtime(replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    app = create_app(runtime=broken)
    adapter = SmsAdapter.from_env(settings.env)
    res = post_simulated(app.test_client(), adapter, "081234567890", "Halo", "db-down")
    assert res.status_code == 503
    assert res.get_json()["error"]["code"] == "storage_unavailable"
    broken.close()


def test_channel_without_credentials_answers_404(runtime: Any, settings: Any) -> None:
    from dataclasses import replace

    from gateway.app import create_app
    from gateway.runtime import Runtime

    env = {k: v for k, v in settings.env.items() if not k.startswith("SMS_")}
    off = Runtime(replace(settings, env=env))
    res = create_app(runtime=off).test_client().post("/webhooks/sms", data={"msisdn": "1"})
    assert res.status_code == 404
    off.close()
