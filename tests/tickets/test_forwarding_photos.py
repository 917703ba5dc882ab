"""Photos reach the agency: a photo sent in the conversation is in the Open311 and webhook payloads.

Real inputs end to end: a signed WhatsApp image notification, the media job downloading it
from the Meta stand-in, the conversation filing the ticket, the coordinator's disposition
through the API, and the forward job calling the Open311 stand-in and the webhook receiver.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, update

from adapters import adapter_class
from gateway.attachments.links import verify
from gateway.devtools.loopback.open311 import Open311StandIn
from gateway.devtools.loopback.webhook_receiver import WebhookReceiver
from gateway.store.models import Job, Message, utcnow
from gateway.web.api.auth import create_token
from tests.gateway.test_conversation_e2e import Citizen
from tests.tickets.test_forwarding import open311, receiver, runtime

__all__ = ["open311", "receiver", "runtime"]


def _send_photo(client: Any, runtime: Any, sender: str, caption: str) -> None:
    adapter = adapter_class("whatsapp").from_env(runtime.settings.env)
    req = adapter.simulate(sender, caption, photo_url=f"https://example.invalid/{sender}/{caption[:8]}.jpg")
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200, res.get_data(as_text=True)


def _postpone_downloads(runtime: Any) -> None:
    """The provider's media server is slow: the downloads are retried later (as the media job's
    RetryLater leaves them: due later, out of the queue)."""
    with runtime.db.session() as session:
        session.execute(
            update(Job)
            .where(Job.kind == "fetch_media", Job.status == "pending")
            .values(run_at=utcnow() + timedelta(hours=1), enqueued_at=None)
        )


def _make_due(runtime: Any, kind: str) -> None:
    with runtime.db.session() as session:
        session.execute(
            update(Job)
            .where(Job.kind == kind, Job.status == "pending")
            .values(run_at=utcnow(), enqueued_at=None)
        )


def _file_with_photo(
    client: Any, runtime: Any, drain: Any, sender: str, text: str, slow: bool = False
) -> str:
    _send_photo(client, runtime, sender, text)
    if slow:
        _postpone_downloads(runtime)
    drain()
    citizen = Citizen(client, runtime, drain, "whatsapp", sender)
    reply = ""
    for answer in ("Jl. Merdeka No. 5, Kecamatan Tengah", "ANONIM", "YA"):
        reply = citizen.says(answer)
        if re.search(r"#\d{8}", reply):
            break
    match = re.search(r"#(\d{8})", reply)
    assert match, reply
    return match.group(1)


def _dispose(client: Any, runtime: Any, tracking: str, agency: str) -> None:
    with runtime.db.session() as session:
        _, token = create_token(session, "koordinator")
    res = client.post(
        f"/api/v1/tickets/{tracking}/status",
        json={"status": "dispatched", "agency": agency},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert res.status_code == 200, res.get_json()


def _stored_photos(runtime: Any) -> list[str]:
    with runtime.db.session() as session:
        rows = session.scalars(select(Message.attachments).where(Message.direction == "in")).all()
    return [a["stored_path"] for row in rows for a in row or [] if a.get("stored_path")]


def _assert_link_to(runtime: Any, url: str, name: str) -> None:
    parts = urlsplit(url)
    assert parts.path == f"/media/{name}", url
    query = parse_qs(parts.query)
    assert verify(runtime.settings, name, query["exp"][0], query["sig"][0])


def test_photo_in_the_conversation_reaches_open311(
    runtime: Any, client: Any, drain: Any, open311: Open311StandIn
) -> None:
    tracking = _file_with_photo(
        client, runtime, drain, "+6281234567140", "Jalan berlubang besar di depan SD 3"
    )
    [photo] = _stored_photos(runtime)
    _dispose(client, runtime, tracking, "dpupr")
    drain()
    [request] = open311.requests
    _assert_link_to(runtime, request.form()["media_url"], photo)


def test_photo_in_the_conversation_reaches_the_webhook(
    runtime: Any, client: Any, drain: Any, receiver: WebhookReceiver
) -> None:
    tracking = _file_with_photo(client, runtime, drain, "+6281234567141", "Sampah menumpuk di TPS pasar, bau")
    [photo] = _stored_photos(runtime)
    _dispose(client, runtime, tracking, "dlh")
    drain()
    [(_key, document)] = receiver.delivered.items()
    [link] = document["ticket"]["media_urls"]
    _assert_link_to(runtime, link, photo)


def test_forwarding_waits_for_a_photo_still_downloading(
    runtime: Any, client: Any, drain: Any, open311: Open311StandIn
) -> None:
    tracking = _file_with_photo(
        client, runtime, drain, "+6281234567142", "Jalan berlubang besar di depan SD 3", slow=True
    )
    assert _stored_photos(runtime) == []  # still downloading
    _dispose(client, runtime, tracking, "dpupr")
    drain()
    assert open311.requests == []  # not forwarded without its photo
    _make_due(runtime, "fetch_media")
    drain()
    [photo] = _stored_photos(runtime)
    _make_due(runtime, "forward_ticket")
    drain()
    [request] = open311.requests
    _assert_link_to(runtime, request.form()["media_url"], photo)


def test_a_photo_sent_after_forwarding_follows_to_the_webhook(
    runtime: Any, client: Any, drain: Any, receiver: WebhookReceiver
) -> None:
    sender = "+6281234567143"
    citizen = Citizen(client, runtime, drain, "whatsapp", sender)
    reply = citizen.says("Sampah menumpuk di TPS pasar sudah seminggu, bau sekali")
    for answer in ("Jl. Merdeka No. 5, Kecamatan Tengah", "ANONIM", "YA"):
        if re.search(r"#\d{8}", reply):
            break
        reply = citizen.says(answer)
    tracking = re.search(r"#(\d{8})", reply).group(1)  # type: ignore[union-attr]
    _dispose(client, runtime, tracking, "dlh")
    drain()
    [(first_key, first)] = receiver.delivered.items()
    assert first["ticket"]["media_urls"] == []
    _send_photo(client, runtime, sender, "Ini fotonya")
    drain()
    [photo] = _stored_photos(runtime)
    later = {k: d for k, d in receiver.delivered.items() if k != first_key}
    [(key, document)] = later.items()
    assert document["event"] == "ticket.media_added" and key == document["idempotency_key"]
    assert document["ticket"]["tracking"] == tracking
    [link] = document["media_urls"]
    _assert_link_to(runtime, link, photo)
    request = receiver.requests[-1]
    assert request.headers["x-lapor-signature"] == receiver.expected_signature(request.body)
    drain()
    assert len(receiver.delivered) == 2 and receiver.duplicates == 0  # once
