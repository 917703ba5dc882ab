"""A citizen whose request came through Open311 with their phone number can answer it by SMS."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.store.models import Message, Ticket
from tests.gateway.test_conversation_e2e import Citizen
from tests.open311.test_open311 import BASE, _form, api_key

__all__ = ["api_key"]


def test_open311_reporter_adds_information_by_sms(
    runtime: Any,
    client: Any,
    api_key: str,
    drain: Any,
) -> None:
    created = client.post(f"{BASE}/requests.json", data=_form(api_key, phone="+62 812-3456-7890"))
    assert created.status_code == 201, created.data
    tracking = created.get_json()[0]["service_request_id"]
    drain()
    citizen = Citizen(client, runtime, drain, "sms", "6281234567890")
    with runtime.db.session() as session:
        citizen.seen = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "out")
        )
    answer = citizen.says("Lubangnya sekarang sudah sebesar ban mobil")
    assert f"#{tracking}" in answer, answer
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        added = session.scalar(select(Message).where(Message.text.like("Lubangnya%")))
        assert ticket is not None and added is not None and added.ticket_id == ticket.id
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
