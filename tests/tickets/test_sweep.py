"""The deadline sweep: overdue marking, reminders, escalation and closing, each once."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from gateway.store.models import AuditEntry, Message
from gateway.tickets import policy
from gateway.tickets.service import Actor, add_citizen_message, is_overdue, transition
from gateway.tickets.sweep import sweep
from gateway.work.periodic import TASKS
from tests.tickets.conftest import TicketFactory, load


def next_day(runtime: Any, day: date, n: int = 1) -> date:
    return policy.calendar(runtime).add_working_days(day, n)


def test_overdue_then_reminded_once_then_escalated(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor
) -> None:
    tracking = make_ticket()
    with runtime.db.session() as session:
        transition(session, runtime, load(session, tracking), "dispose", coordinator, agency="dpupr")
        deadline = load(session, tracking).deadline
    assert deadline == next_day(runtime, policy.today(runtime), 5)
    assert sweep(runtime, today=deadline) == {"overdue": 0, "escalated": 0, "closed": 0, "ombudsman": 0}
    late = next_day(runtime, deadline)
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert not is_overdue(runtime, ticket, deadline) and is_overdue(runtime, ticket, late)
    assert sweep(runtime, today=late)["overdue"] == 1
    assert sweep(runtime, today=late)["overdue"] == 0  # already marked: no second reminder
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.overdue and ticket.escalated_at is None
        [reminder] = [e for e in ticket.events if e.action == "reminder"]
        assert reminder.internal and reminder.data == {"deadline": deadline.isoformat(), "agency": "dpupr"}
        assert (
            session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "ticket.reminder"))
            == 1
        )
    assert sweep(runtime, today=next_day(runtime, deadline, 2))["escalated"] == 1
    assert sweep(runtime, today=next_day(runtime, deadline, 3))["escalated"] == 0
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.escalated_at is not None
        [escalation] = [e for e in ticket.events if e.action == "escalate"]
        assert escalation.data["working_days_late"] == 2
        # Nothing of this reaches the citizen.
        assert session.scalar(select(func.count(Message.id)).where(Message.ticket_id == ticket.id)) == 1


def test_a_new_stage_clears_overdue(runtime: Any, make_ticket: TicketFactory, coordinator: Actor) -> None:
    tracking = make_ticket()
    with runtime.db.session() as session:
        deadline = load(session, tracking).deadline
    assert deadline is not None
    assert sweep(runtime, today=next_day(runtime, deadline, 3)) == {
        "overdue": 1,
        "escalated": 1,
        "closed": 0,
        "ombudsman": 0,
    }
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        # Verification is the coordinator's job even when routing already named the agency.
        assert [e.data.get("agency") for e in ticket.events if e.action == "reminder"] == ["diskominfo"]
        transition(session, runtime, ticket, "dispose", coordinator, agency="dpupr")
        assert not ticket.overdue and ticket.escalated_at is None


def test_deferred_tickets_are_never_overdue(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor
) -> None:
    tracking = make_ticket()
    with runtime.db.session() as session:
        transition(session, runtime, load(session, tracking), "defer", coordinator, note="Di mana tepatnya?")
    assert sweep(runtime, today=date(2099, 1, 5)) == {
        "overdue": 0,
        "escalated": 0,
        "closed": 0,
        "ombudsman": 0,
    }


def test_resolved_ticket_closes_after_the_window_and_stays_closed(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor, dpupr: Actor
) -> None:
    tracking = make_ticket()
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        transition(session, runtime, ticket, "dispose", coordinator, agency="dpupr")
        transition(session, runtime, ticket, "resolve", dpupr, note="Sudah diperbaiki")
        close_day = ticket.deadline
    assert close_day == next_day(runtime, policy.today(runtime), 10)
    assert (
        sweep(runtime, today=close_day)["closed"] == 0
    )  # the tenth working day still belongs to the citizen
    assert sweep(runtime, today=next_day(runtime, close_day))["closed"] == 1
    assert sweep(runtime, today=next_day(runtime, close_day, 2))["closed"] == 0
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.status == "resolved" and ticket.closed_at is not None and ticket.deadline is None
        assert ticket.events[-1].action == "close" and ticket.events[-1].actor_type == "system"
        sent = session.scalar(select(func.count(Message.id)).where(Message.ticket_id == ticket.id))
        reply = Message(direction="in", channel="telegram", address="telegram:5550001", text="masih rusak")
        session.add(reply)
        session.flush()
        assert add_citizen_message(session, runtime, ticket, reply) is None
        assert ticket.status == "resolved"
        assert (
            session.scalar(
                select(func.count(Message.id)).where(
                    Message.ticket_id == ticket.id, Message.direction == "out"
                )
            )
            == sent
        )


def test_registered_as_periodic(runtime: Any, make_ticket: TicketFactory) -> None:
    make_ticket()
    (task,) = [t for t in TASKS if t.name == "deadline_sweep"]
    assert task.interval == 300
    task.fn(runtime)  # today: the fresh ticket is not due, nothing changes
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(AuditEntry.id))) == 0
