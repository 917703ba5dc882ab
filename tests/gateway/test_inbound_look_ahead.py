"""process_inbound works a turn out without the write lock, then writes it only if nothing moved.

`read` (`_look`) reads and runs the engine in a read-only transaction; ``end`` writes the result
where the conversation's version and the messages' processed mark are still as seen, and
otherwise does the turn again with the conversation locked. These tests drive the real
webhook, worker and handler; the "concurrent worker" is the real rq worker draining first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from adapters import adapter_class
from gateway.store.models import Contact, Conversation, Job, Message
from gateway.work.handlers.turn import ProcessInbound, _Plan

HANDLER = ProcessInbound()


def _look(runtime: Any, session: Any, payload: dict[str, Any]) -> _Plan | None:
    """The handler's ``read`` for a batch of one."""
    [plan] = HANDLER.read(runtime, session, [payload])
    return plan


def process_inbound(runtime: Any, session: Any, payload: dict[str, Any], seen: _Plan | None) -> Any:
    """The handler's ``end`` (where the turns are written) for a batch of one."""
    [result] = HANDLER.end(runtime, session, [((payload, seen), None)])
    return result


def _post(client: Any, runtime: Any, sender: str, text: str) -> None:
    adapter = adapter_class("sms").from_env(runtime.settings.env)
    req = adapter.simulate(sender, text)
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200, res.get_data(as_text=True)


def _contact_id(runtime: Any) -> int:
    with runtime.db.session(write=False) as session:
        return int(session.scalars(select(Contact.id)).one())


def _replies(runtime: Any) -> list[str]:
    with runtime.db.session(write=False) as session:
        return list(
            session.scalars(select(Message.text).where(Message.direction == "out").order_by(Message.id))
        )


def test_a_plain_turn_is_worked_out_ahead_and_written_as_seen(client: Any, runtime: Any, drain: Any) -> None:
    _post(client, runtime, "081233300001", "Jalan berlubang di depan SDN 3 Sukamaju")
    payload = {"contact_id": _contact_id(runtime)}
    with runtime.db.session(write=False) as session:
        plan = _look(runtime, session, payload)
    assert plan is not None and plan.version is None  # a first message: no conversation yet
    [(row, effects, _language)] = plan.turns
    assert row.text.startswith("Jalan berlubang")
    drain()
    with runtime.db.session(write=False) as session:
        conv = session.scalars(select(Conversation)).one()
        assert conv.version == plan.state.version
        # The worker's own look (the same turn, a moment later) was written: same stage and draft.
        assert conv.intake_state == plan.state.stage == conv.state["stage"]
        assert conv.state["draft"]["description"] == plan.state.to_dict()["draft"]["description"]
        unprocessed = session.scalar(
            select(func.count(Message.id)).where(Message.direction == "in", Message.processed_at.is_(None))
        )
        assert unprocessed == 0
    replies = _replies(runtime)
    assert len(replies) == sum(1 for e in effects if type(e).__name__ == "Reply")
    assert "lokasi" in replies[0].lower() or "di mana" in replies[0].lower()


def test_a_stale_look_is_not_written_and_the_turn_is_not_repeated(
    client: Any, runtime: Any, drain: Any
) -> None:
    _post(client, runtime, "081233300002", "Lampu jalan mati di gang kami")
    drain()  # the first turn: the bot asks where
    _post(client, runtime, "081233300002", "Jl. Merdeka No. 10, Kelurahan Sukamaju")
    payload = {"contact_id": _contact_id(runtime)}
    with runtime.db.session(write=False) as session:
        stale = _look(runtime, session, payload)
    assert stale is not None and stale.version is not None
    drain()  # another worker handles the same message first
    with runtime.db.session(write=False) as session:
        after = session.scalars(select(Conversation)).one()
        version, state = after.version, after.state
    replies = _replies(runtime)

    # The late handler sees that the conversation moved on and redoes the turn locked, which
    # finds nothing left to do: no second answer, the conversation as the first worker left it.
    with runtime.db.session() as session:
        assert process_inbound(runtime, session, payload, stale) is None
    with runtime.db.session(write=False) as session:
        conv = session.scalars(select(Conversation)).one()
        assert (conv.version, conv.state) == (version, state)
    assert _replies(runtime) == replies
    drain()
    assert _replies(runtime) == replies


def test_a_message_taken_meanwhile_is_not_handled_twice(client: Any, runtime: Any, drain: Any) -> None:
    """Even when the conversation's version did not move (a message the engine ignores)."""
    _post(client, runtime, "081233300003", "Sampah menumpuk di pasar")
    payload = {"contact_id": _contact_id(runtime)}
    with runtime.db.session(write=False) as session:
        stale = _look(runtime, session, payload)
    assert stale is not None
    drain()
    replies = _replies(runtime)
    with runtime.db.session() as session:
        # Pretend the conversation row is as the look saw it, so only the messages' mark can tell.
        session.execute(Conversation.__table__.delete().where(Conversation.contact_id == stale.contact_id))
        process_inbound(runtime, session, payload, stale)
        stages = list(session.scalars(select(Conversation.intake_state)))
        session.rollback()
    # Not the look's turn (it would have said "awaiting the location"): the locked path found the
    # message handled, so it only created an idle conversation in place of the deleted one.
    assert stages == ["idle"] != [stale.state.stage]
    assert _replies(runtime) == replies
    with runtime.db.session(write=False) as session:
        jobs = session.scalar(select(func.count(Job.id)).where(Job.kind == "send_message"))
    assert jobs == len(replies)
