"""A message the dialogue cannot process goes to a person and does not block the next one.

The fault is injected through stored data, not by patching our code: the citizen's
conversation row holds a state the engine cannot read (as a row written by another version
or edited by hand would), so the turn of their next message raises every time.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from adapters import adapter_class
from conversations import texts
from gateway.store.models import Conversation, Job, Message, Ticket, utcnow
from gateway.work.handlers.unprocessable import TURN_ATTEMPTS
from tests.inbox.conftest import login, make_operator

CHANNELS = [
    ("sms", "081234567801"),
    ("telegram", "700000801"),
    ("whatsapp", "+6281234567803"),
]


class Citizen:
    def __init__(self, client: Any, runtime: Any, channel: str, sender: str) -> None:
        self.client, self.runtime = client, runtime
        self.adapter = adapter_class(channel).from_env(runtime.settings.env)
        self.sender = sender

    def sends(self, text: str) -> None:
        req = self.adapter.simulate(self.sender, text)
        res = self.client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
        assert res.status_code == 200, res.get_data(as_text=True)

    def replies(self) -> list[Message]:
        with self.runtime.db.session() as session:
            return list(
                session.scalars(select(Message).where(Message.direction == "out").order_by(Message.id))
            )


def break_conversation(runtime: Any) -> None:
    """A state the engine cannot read: ``menu`` must be a list."""
    with runtime.db.session() as session:
        conv = session.scalar(select(Conversation))
        assert conv is not None
        conv.state = {**conv.state, "menu": 7}


def time_passes(runtime: Any) -> None:
    """The retry's backoff is over (the job row's own schedule, moved to now)."""
    with runtime.db.session() as session:
        session.execute(
            update(Job).where(Job.kind == "process_inbound", Job.status == "pending").values(run_at=utcnow())
        )


@pytest.mark.parametrize(("channel", "sender"), CHANNELS, ids=[c for c, _ in CHANNELS])
def test_a_message_that_keeps_failing_becomes_a_ticket_for_a_person(
    app: Any, client: Any, runtime: Any, drain: Any, channel: str, sender: str
) -> None:
    citizen = Citizen(client, runtime, channel, sender)
    citizen.sends("Jalan berlubang besar di depan pasar Sukamaju")
    drain()
    asked = len(citizen.replies())
    assert asked >= 1
    break_conversation(runtime)

    citizen.sends("Jl. Pasar Sukamaju no 3")
    drain()
    citizen.sends("Mohon segera ditindaklanjuti")  # comes while the first one fails: it waits behind it
    drain()
    assert len(citizen.replies()) == asked  # neither is answered yet
    with runtime.db.session() as session:
        stuck = session.scalar(select(Message).where(Message.text == "Jl. Pasar Sukamaju no 3"))
        assert stuck is not None and stuck.processed_at is None and stuck.attempts >= 1
        assert "TypeError" in (stuck.failure_reason or "")
        later = session.scalar(select(Message).where(Message.text == "Mohon segera ditindaklanjuti"))
        assert later is not None and later.processed_at is None

    for _ in range(TURN_ATTEMPTS + 2):
        time_passes(runtime)
        drain()

    with runtime.db.session() as session:
        [ticket] = session.scalars(select(Ticket)).all()
        assert ticket.status == "unverified"
        assert ticket.category == "lainnya"
        assert ticket.agency is not None and ticket.agency.is_coordinator
        assert "Jl. Pasar Sukamaju no 3" in ticket.description
        assert "TypeError" in ticket.data["needs_person"]["error"]
        stuck = session.scalar(select(Message).where(Message.text == "Jl. Pasar Sukamaju no 3"))
        assert stuck is not None and stuck.processed_at is not None and stuck.ticket_id == ticket.id
        later = session.scalar(select(Message).where(Message.text == "Mohon segera ditindaklanjuti"))
        assert later is not None and later.processed_at is not None  # it did not wait for ever
        tracking = ticket.tracking
        failed = session.scalars(select(Job).where(Job.status == "failed")).all()
        assert failed == []

    new = [r.text for r in citizen.replies()[asked:]]
    holding = texts.text(runtime.config, "needs_person.holding", "id", tracking=tracking)
    assert new[0] == holding  # the same words whatever the channel
    assert new.count(holding) == 1
    assert len(new) == 2  # and the next message was answered by the dialogue, afresh

    with runtime.db.session() as session:
        make_operator(session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator")
    coordinator = app.test_client()
    assert login(coordinator, "koor@example.id").status_code == 302
    page = coordinator.get(f"/inbox/t/{tracking}").get_data(as_text=True)
    assert "Perlu ditangani petugas" in page
    assert "TypeError" in page
