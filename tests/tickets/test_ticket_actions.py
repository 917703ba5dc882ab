"""POST /api/v1/tickets/<tracking>/status and /replies with coordinator-wide and agency tokens."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Message
from gateway.web.api.auth import create_token
from tests.tickets.conftest import TicketFactory, agency_id, load


def token(runtime: Any, agency: str | None = None) -> dict[str, str]:
    with runtime.db.session() as session:
        _, secret = create_token(
            session, f"test-{agency or 'all'}", agency_id(runtime, agency) if agency else None
        )
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def city(runtime: Any) -> dict[str, str]:
    return token(runtime)


@pytest.fixture
def dpupr_token(runtime: Any) -> dict[str, str]:
    return token(runtime, "dpupr")


def test_status_walk_through_the_api(
    client: Any, runtime: Any, make_ticket: TicketFactory, city: dict[str, str], dpupr_token: dict[str, str]
) -> None:
    tracking = make_ticket()
    url = f"/api/v1/tickets/{tracking}/status"
    answer = client.post(url, json={"status": "dispatched", "agency": "dpupr"}, headers=city)
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "dispatched" and answer.json["agency"] == "dpupr"
    assert answer.json["event"]["action"] == "dispose"
    answer = client.post(
        f"/api/v1/tickets/%23{tracking}/status", json={"status": "in_progress"}, headers=dpupr_token
    )
    assert answer.status_code == 200 and answer.json["status"] == "in_progress"
    assert answer.json["reporter"] is None  # anonymous: hidden from the agency
    answer = client.post(url, json={"status": "resolved", "note": "Sudah ditambal"}, headers=dpupr_token)
    assert answer.status_code == 200 and answer.json["event"]["note"] == "Sudah ditambal"
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert [e.actor_label for e in ticket.events][1:] == [
            "API: test-all",
            "API: test-dpupr",
            "API: test-dpupr",
        ]
        # Three updates, and the satisfaction question after the resolution.
        assert len(session.scalars(select(Message).where(Message.ticket_id == ticket.id)).all()) == 4


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"status": "resolved"}, 409, "invalid_transition"),  # not dispatched yet
        ({"status": "dispatched"}, 422, "missing_argument"),
        ({"status": "dispatched", "agency": "nasa"}, 422, "invalid_argument"),
        ({"status": "archived", "reason": "bosan"}, 422, "invalid_argument"),
        ({"status": "flying"}, 422, "unknown_action"),
        ({"status": "dispatched", "agency": 5}, 422, "invalid_argument"),
        ({"status": "dispatched", "colour": "red"}, 400, "unknown_field"),
        ({}, 422, "missing_argument"),
    ],
)
def test_refusals_are_json_errors(
    client: Any,
    make_ticket: TicketFactory,
    city: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    tracking = make_ticket()
    answer = client.post(f"/api/v1/tickets/{tracking}/status", json=body, headers=city)
    assert answer.status_code == status
    assert answer.json["error"]["code"] == code and answer.json["error"]["message"]


def test_agency_token_boundary(
    client: Any, runtime: Any, make_ticket: TicketFactory, city: dict[str, str], dpupr_token: dict[str, str]
) -> None:
    tracking = make_ticket()
    # Not yet verified: the agency cannot see it, so it does not exist for its token.
    answer = client.post(
        f"/api/v1/tickets/{tracking}/status", json={"status": "in_progress"}, headers=dpupr_token
    )
    assert answer.status_code == 404
    client.post(
        f"/api/v1/tickets/{tracking}/status", json={"status": "dispatched", "agency": "dlh"}, headers=city
    )
    answer = client.post(f"/api/v1/tickets/{tracking}/replies", json={"text": "Halo"}, headers=dpupr_token)
    assert answer.status_code == 404
    client.post(
        f"/api/v1/tickets/{tracking}/status", json={"status": "unverified", "note": "salah"}, headers=city
    )
    client.post(
        f"/api/v1/tickets/{tracking}/status", json={"status": "dispatched", "agency": "dpupr"}, headers=city
    )
    # An agency may not archive: that is the coordinator's call.
    answer = client.post(
        f"/api/v1/tickets/{tracking}/status",
        json={"status": "archived", "reason": "too_general"},
        headers=dpupr_token,
    )
    assert answer.status_code == 403 and answer.json["error"]["code"] == "forbidden"
    assert (
        client.post(f"/api/v1/tickets/{tracking}/status", json={"status": "in_progress"}).status_code == 401
    )


def test_reply_is_queued_once_per_idempotency_key(
    client: Any, runtime: Any, make_ticket: TicketFactory, city: dict[str, str]
) -> None:
    tracking = make_ticket(privacy="public", privacy_chosen=True)
    url = f"/api/v1/tickets/{tracking}/replies"
    headers = {**city, "Idempotency-Key": "balasan-1"}
    first = client.post(url, json={"text": "Mohon kirim foto lokasi."}, headers=headers)
    assert first.status_code == 201, first.json
    assert f"#{tracking}" in first.json["text"] and first.json["author"] == "operator"
    assert first.json["recipient"] == "telegram:5550001"
    again = client.post(url, json={"text": "Mohon kirim foto lokasi."}, headers=headers)
    assert again.status_code == 201 and again.json["id"] == first.json["id"]
    assert client.post(url, json={"text": "  "}, headers=city).status_code == 422
    assert client.post(url, data="text", headers=city).status_code == 400
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        rows = session.scalars(select(Message).where(Message.ticket_id == ticket.id)).all()
        assert [m.text for m in rows] == [first.json["text"]]
        assert [e.action for e in ticket.events].count("reply") == 1


def test_refusals_keep_their_english_message_for_integrators(
    client: Any, make_ticket: TicketFactory, city: dict[str, str], dpupr_token: dict[str, str]
) -> None:
    # The inbox shows translated sentences; the API's code and message are a contract and stay as they were.
    tracking = make_ticket()
    url = f"/api/v1/tickets/{tracking}/status"
    answer = client.post(url, json={"status": "resolved"}, headers=city)
    assert answer.status_code == 409
    # Exactly code and message: the inbox's key and params do not leak into the API.
    assert answer.json["error"] == {
        "code": "invalid_transition",
        "message": "a ticket that is unverified cannot become resolved",
    }
    answer = client.post(url, json={"status": "dispatched"}, headers=city)
    assert (answer.status_code, answer.json["error"]["code"], answer.json["error"]["message"]) == (
        422,
        "missing_argument",
        "dispose needs 'agency'",
    )
    client.post(url, json={"status": "dispatched", "agency": "dpupr"}, headers=city)
    answer = client.post(url, json={"status": "archived", "reason": "too_general"}, headers=dpupr_token)
    assert (answer.status_code, answer.json["error"]["code"], answer.json["error"]["message"]) == (
        403,
        "forbidden",
        "a api-agency may not archive a ticket",
    )
    answer = client.post(f"/api/v1/tickets/{tracking}/replies", json={"text": " "}, headers=dpupr_token)
    assert (answer.status_code, answer.json["error"]["code"], answer.json["error"]["message"]) == (
        422,
        "missing_argument",
        "the reply must not be empty",
    )
