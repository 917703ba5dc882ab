"""A citizen whose complaint was filed at the walk-in desk (or through Open311) can answer it.

Their SMS is a follow-up of that ticket (added to it, reopening it when resolved within the
window), not the start of a new complaint. Real inputs: the inbox form, signed SMS webhooks,
the API for the operators' status changes, the real worker.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.store.models import Message, Ticket
from gateway.web.api.auth import create_token
from tests.gateway.test_conversation_e2e import Citizen
from tests.inbox.conftest import World
from tests.inbox.test_views_ticket import WALK_IN


def _walk_in(client: Any, runtime: Any, drain: Any, **change: str) -> str:
    assert client.post("/inbox/new", data={**WALK_IN, **change}).status_code == 302
    drain()
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.source == "operator"))
        assert ticket is not None
        return ticket.tracking


def _status(client: Any, runtime: Any, tracking: str, body: dict[str, str]) -> None:
    with runtime.db.session() as session:
        _, token = create_token(session, "city-system")
    res = client.post(
        f"/api/v1/tickets/{tracking}/status", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert res.status_code == 200, res.get_json()


def test_walk_in_citizen_adds_information_by_sms(
    as_coordinator: Any, world: World, runtime: Any, client: Any, drain: Any
) -> None:
    tracking = _walk_in(as_coordinator, runtime, drain)
    citizen = Citizen(client, runtime, drain, "sms", "081211112222")
    with runtime.db.session() as session:
        citizen.seen = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "out")
        )
    answer = citizen.says("Airnya sudah masuk ke rumah warga sejak semalam")
    assert f"#{tracking}" in answer, answer
    with runtime.db.session() as session:
        added = session.scalar(select(Message).where(Message.text.like("Airnya%")))
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert added is not None and ticket is not None and added.ticket_id == ticket.id
        assert session.scalar(select(func.count()).select_from(Ticket)) == 5  # the world's four and this


def test_walk_in_citizen_reopens_a_resolved_ticket_within_the_window(
    as_coordinator: Any, world: World, runtime: Any, client: Any, drain: Any
) -> None:
    tracking = _walk_in(as_coordinator, runtime, drain, updates="whatsapp")
    _status(client, runtime, tracking, {"status": "dispatched", "agency": "dpupr"})
    _status(client, runtime, tracking, {"status": "resolved", "note": "Saluran sudah dibersihkan"})
    drain()
    citizen = Citizen(client, runtime, drain, "sms", "+62 812 1111 2222")
    with runtime.db.session() as session:
        citizen.seen = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "out")
        )
    citizen.says("Belum beres, air masih menggenang di depan rumah")
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None and ticket.status != "resolved" and ticket.resolved_at is None
        assert session.scalar(select(func.count()).select_from(Ticket)) == 5  # the world's four and this
