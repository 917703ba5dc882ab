"""The right to escalate when the follow-up deadline is passed twice (issue 20, part 2b), end to end:
the citizen files through the webhook, the coordinator dispatches, the deadline sweep runs on
later days, and the notice reaches the citizen's channel once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Message, Ticket
from gateway.tickets import policy
from gateway.tickets.service import Actor, transition
from gateway.tickets.sweep import sweep
from tests.tickets.conftest import operator_actor
from tests.voice.citizen import Citizen

CHANNELS = [("sms", "081234567401"), ("telegram", "700000402")]


@pytest.mark.parametrize(("channel", "sender"), CHANNELS, ids=[c for c, _ in CHANNELS])
def test_the_citizen_hears_of_the_ombudsman_once_the_follow_up_deadline_is_passed_twice(
    client: Any, runtime: Any, drain: Any, channel: str, sender: str
) -> None:
    citizen = Citizen(client, runtime, drain, channel, sender)
    tracking = citizen.files(
        "Jalan berlubang besar di depan SDN 3, bahaya untuk motor", "Jl. Merdeka 5, Kel. Sukajadi"
    )
    coordinator: Actor = operator_actor(runtime, "coordinator", "diskominfo")
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        if ticket.status == "unverified":
            transition(session, runtime, ticket, "dispose", coordinator, agency="dpupr")
        deadline = ticket.deadline
    assert deadline is not None
    citizen.reads()
    calendar = policy.calendar(runtime)
    follow_up = policy.deadlines(runtime, "jalan")["follow_up"]

    assert sweep(runtime, today=calendar.add_working_days(deadline, 1))["ombudsman"] == 0  # passed once
    assert not any("Ombudsman" in m.text for m in citizen.reads())
    assert sweep(runtime, today=calendar.add_working_days(deadline, follow_up))["ombudsman"] == 1  # twice
    notice = [m for m in citizen.reads() if "Ombudsman" in m.text]
    assert len(notice) == 1 and f"#{tracking}" in notice[0].text and "137" in notice[0].text
    assert notice[0].delivery_status in ("sent", "delivered", "queued")
    assert sweep(runtime, today=calendar.add_working_days(deadline, follow_up + 3))["ombudsman"] == 0
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None and ticket.data["ombudsman"] == "deadline"
        assert [e.data for e in ticket.events if e.action == "ombudsman"] == [{"reason": "deadline"}]
        sent = session.scalars(select(Message).where(Message.dedupe_key == f"ombudsman:{ticket.id}")).all()
        assert len(sent) == 1


def test_a_second_missed_deadline_after_a_reopen_counts_too(runtime: Any, make_ticket: Any) -> None:
    coordinator = operator_actor(runtime, "coordinator", "diskominfo")
    tracking = make_ticket()
    calendar = policy.calendar(runtime)
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        transition(session, runtime, ticket, "dispose", coordinator, agency="dpupr")
        first = ticket.deadline
    assert first is not None
    sweep(runtime, today=calendar.add_working_days(first, 1))  # missed once: reminded, not told
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None and "ombudsman" not in ticket.data
        transition(session, runtime, ticket, "not_our_authority", coordinator, note="Salah instansi")
        transition(session, runtime, ticket, "dispose", coordinator, agency="dlh")
        second = ticket.deadline
    assert second is not None
    assert sweep(runtime, today=calendar.add_working_days(second, 1))["ombudsman"] == 1
