"""API actions: an Idempotency-Key belongs to one ticket and one token; actions and confidential reads
are in the audit log, as the inbox's are."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.store.models import AuditEntry, Message
from gateway.web.api.auth import create_token
from tests.tickets.conftest import TicketFactory, load


def _token(runtime: Any, name: str) -> dict[str, str]:
    with runtime.db.session() as session:
        _row, secret = create_token(session, name)
    return {"Authorization": f"Bearer {secret}"}


def _audit(runtime: Any) -> list[tuple[str, str | None, str | None, str | None]]:
    """(action, actor, tracking, detail) of every audit entry, oldest first."""
    from gateway.store.models import Ticket

    with runtime.db.session() as session:
        rows = session.execute(
            select(AuditEntry, Ticket.tracking)
            .outerjoin(Ticket, AuditEntry.ticket_id == Ticket.id)
            .order_by(AuditEntry.id)
        ).all()
        return [(e.action, e.actor_label, tracking, e.detail) for e, tracking in rows]


def test_an_idempotency_key_is_scoped_to_its_ticket_and_token(
    client: Any, runtime: Any, make_ticket: TicketFactory
) -> None:
    first_ticket = make_ticket(privacy="public", privacy_chosen=True)
    second_ticket = make_ticket(privacy="public", privacy_chosen=True)
    one, two = _token(runtime, "system-one"), _token(runtime, "system-two")
    body = {"text": "Mohon kirim foto lokasi."}
    key = {"Idempotency-Key": "balasan-1"}
    first = client.post(f"/api/v1/tickets/{first_ticket}/replies", json=body, headers={**one, **key})
    assert first.status_code == 201
    # The same key on another ticket is another request: a new reply there, not the first answer.
    elsewhere = client.post(f"/api/v1/tickets/{second_ticket}/replies", json=body, headers={**one, **key})
    assert elsewhere.status_code == 201 and elsewhere.json["id"] != first.json["id"]
    assert f"#{second_ticket}" in elsewhere.json["text"]
    # Another token's key is its own, even when it is the same string on the same ticket.
    other = client.post(f"/api/v1/tickets/{first_ticket}/replies", json=body, headers={**two, **key})
    assert other.status_code == 201 and other.json["id"] != first.json["id"]
    # The same token, ticket and key again: the first answer.
    again = client.post(f"/api/v1/tickets/{first_ticket}/replies", json=body, headers={**one, **key})
    assert again.json["id"] == first.json["id"]
    with runtime.db.session() as session:
        ticket = load(session, second_ticket)
        assert len(session.scalars(select(Message).where(Message.ticket_id == ticket.id)).all()) == 1


def test_api_actions_and_confidential_reads_are_audited(
    client: Any, runtime: Any, make_ticket: TicketFactory
) -> None:
    public = make_ticket(privacy="public", privacy_chosen=True)
    secret = make_ticket(privacy="confidential", privacy_chosen=True)
    city = _token(runtime, "system-one")
    moved = client.post(
        f"/api/v1/tickets/{public}/status", json={"status": "dispatched", "agency": "dpupr"}, headers=city
    )
    assert moved.status_code == 200
    replied = client.post(
        f"/api/v1/tickets/{public}/replies", json={"text": "Sedang kami cek."}, headers=city
    )
    assert replied.status_code == 201
    assert client.get(f"/api/v1/tickets/{public}", headers=city).status_code == 200
    assert client.get(f"/api/v1/tickets/{secret}", headers=city).status_code == 200
    assert client.get("/api/v1/tickets", headers=city).status_code == 200
    told = client.post(f"/api/v1/tickets/{secret}/replies", json={"text": "Kami terima."}, headers=city)
    assert told.status_code == 201
    assert client.get("/api/v1/messages", headers=city).status_code == 200
    entries = _audit(runtime)
    assert ("ticket.dispose", "API: system-one", public, None) in entries
    assert ("ticket.reply", "API: system-one", public, f"message {replied.json['id']}") in entries
    views = [e for e in entries if e[0] == "ticket.view"]
    # The confidential ticket, read alone and in the list; the public one is not a confidential read.
    assert [(e[1], e[2]) for e in views] == [("API: system-one", secret)] * 3
    assert [e[3] for e in views] == ["confidential", "confidential (list)", "confidential (messages)"]
    # A refused action is not recorded as done.
    refused = client.post(f"/api/v1/tickets/{secret}/status", json={"status": "resolved"}, headers=city)
    assert refused.status_code == 409
    assert not any(e[0] == "ticket.resolve" for e in _audit(runtime))


def test_open311_filing_is_audited(client: Any, runtime: Any) -> None:
    with runtime.db.session() as session:
        _row, key = create_token(session, "civic-app")
    created = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "jalan",
            "address_string": "Jl. Melati 12",
            "description": "Jalan berlubang besar di depan pasar",
            "phone": "0812-3456-7890",
        },
    )
    assert created.status_code == 201
    tracking = created.get_json()[0]["service_request_id"]
    entries = [e for e in _audit(runtime) if e[0] == "open311.create"]
    assert entries == [("open311.create", "API: civic-app", tracking, "service jalan")]
