"""A batch of inbound jobs writes its usual turns together, or contact by contact.

`ProcessInbound.end` writes the turns `_look` worked out for a whole batch with one
statement per kind of row (conversations, processed marks, replies, their send jobs, the
timeouts). If any contact moved on since the look, the savepoint undoes all of it, the
contacts' turns are written one by one, and a contact that moved takes the locked path, so a
turn is never written twice or from a stale state. These
tests drive the real webhook and the real rq worker; the statement counts come from
SQLAlchemy's own event.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import event, func, select, update

from adapters import adapter_class
from gateway.store.models import Contact, Conversation, Job, Message
from gateway.work.handlers.turn import ProcessInbound, _written_ahead


def _post(client: Any, runtime: Any, sender: str, text: str) -> None:
    adapter = adapter_class("sms").from_env(runtime.settings.env)
    req = adapter.simulate(sender, text)
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200, res.get_data(as_text=True)


def _count(runtime: Any, model: Any, *where: Any) -> int:
    with runtime.db.session(write=False) as session:
        return int(session.scalar(select(func.count(model.id)).where(*where)) or 0)


class _Statements:
    """Statements by their first three words ("INSERT INTO conversations"), per cursor call."""

    def __init__(self, engine: Any) -> None:
        self.seen: Counter[str] = Counter()
        self._engine = engine
        event.listen(engine, "before_cursor_execute", self._note)

    def _note(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen[" ".join(statement.split()[:3]).lower()] += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._note)


def test_a_backlog_of_first_messages_is_written_together(client: Any, runtime: Any, drain: Any) -> None:
    senders = [f"08123440{n:04d}" for n in range(6)]
    for sender in senders:
        _post(client, runtime, sender, "Jalan berlubang di depan SDN 3 Sukamaju")
    # A seventh citizen writes twice before any worker runs: two jobs for one contact.
    _post(client, runtime, "081234409999", "Lampu jalan mati")
    _post(client, runtime, "081234409999", "di gang Mawar")
    statements = _Statements(runtime.db.engine)
    try:
        drain()
    finally:
        statements.close()

    assert _count(runtime, Job, Job.kind == "process_inbound", Job.status != "done") == 0
    assert _count(runtime, Message, Message.direction == "in", Message.processed_at.is_(None)) == 0
    with runtime.db.session(write=False) as session:
        conversations = session.execute(select(Conversation.contact_id, Conversation.intake_state)).all()
        replies = session.execute(
            select(Message.contact_id, Message.dedupe_key).where(Message.direction == "out")
        ).all()
        sends = session.scalars(select(Job.dedupe_key).where(Job.kind == "send_message")).all()
        timeouts = session.scalars(select(Job.dedupe_key).where(Job.kind == "conversation_timeout")).all()
        contacts = session.scalar(select(func.count(Contact.id)))
    assert contacts == 7 and len(conversations) == 7
    assert {stage for _cid, stage in conversations} != {"idle"}
    # Each contact answered; every reply once, with one send job; the double writer's two
    # messages were two turns of one job, not two answers to each.
    by_contact = Counter(cid for cid, _key in replies)
    assert set(by_contact) == {cid for cid, _stage in conversations}
    assert len({key for _cid, key in replies}) == len(replies)
    assert sorted(sends) == sorted(f"send:{mid}" for mid in _ids_of_replies(runtime))
    assert len(timeouts) == len(set(timeouts)) >= 7
    # The six plus one contacts' conversations were created by one statement, and their
    # replies stored by one (the second job of the double writer found nothing left).
    assert statements.seen["insert into conversations"] == 1
    assert statements.seen["insert into messages"] == 1


def _ids_of_replies(runtime: Any) -> list[int]:
    with runtime.db.session(write=False) as session:
        return list(session.scalars(select(Message.id).where(Message.direction == "out")))


def _jobs_of(runtime: Any) -> list[tuple[int, dict[str, Any], int, int]]:
    with runtime.db.session(write=False) as session:
        rows = session.execute(
            select(Job.id, Job.payload, Job.attempts, Job.max_attempts).where(
                Job.kind == "process_inbound", Job.status == "pending"
            )
        ).all()
    return [(int(r[0]), dict(r[1]), int(r[2]), int(r[3])) for r in rows]


def test_one_contact_moving_on_leaves_only_its_turn_to_the_locked_path(
    client: Any, runtime: Any, drain: Any
) -> None:
    senders = ["081234500001", "081234500002", "081234500003"]
    for sender in senders:
        _post(client, runtime, sender, "Sampah menumpuk di pasar")
    drain()  # first turns: the bot asks where
    for sender in senders:
        _post(client, runtime, sender, "Pasar Minggu, Jl. Merdeka 10")
    replies_before = _count(runtime, Message, Message.direction == "out")
    before = _replies_per_contact(runtime)
    jobs = _jobs_of(runtime)
    assert len(jobs) == 3
    items = [job[1] for job in jobs]
    with runtime.db.session(write=False) as session:
        seen = ProcessInbound().read(runtime, session, items)
    assert all(plan is not None for plan in seen)

    # Another worker moves one conversation on between the look and the write.
    moved = jobs[1][1]["contact_id"]
    with runtime.db.session() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.contact_id == moved)
            .values(version=Conversation.version + 1)
        )
    with runtime.db.session() as session:
        done = _written_ahead(runtime, session, list(zip(items, seen, strict=True)))
    # The batch could not be written together; the two other contacts' turns were, each alone,
    # and nothing of the moved contact's turn (its message is still unprocessed).
    assert done == {0, 2}
    assert _count(runtime, Message, Message.direction == "out") > replies_before
    assert _count(runtime, Message, Message.direction == "in", Message.processed_at.is_(None)) == 1
    assert _count(runtime, Job, Job.kind == "process_inbound", Job.status == "done") == 3  # the first turns

    drain()  # the moved contact's job with its conversation locked; the others find their turns done
    assert _count(runtime, Message, Message.direction == "in", Message.processed_at.is_(None)) == 0
    assert _count(runtime, Job, Job.kind == "process_inbound", Job.status != "done") == 0
    after = _replies_per_contact(runtime)
    # Every citizen got this turn's answer once: the same number of new replies for each,
    # the moved contact included (its turn was done again, locked, not skipped or doubled).
    added = {cid: after[cid] - before[cid] for cid in after}
    assert len(added) == 3 and len(set(added.values())) == 1 and min(added.values()) >= 1


def _replies_per_contact(runtime: Any) -> Counter[int]:
    with runtime.db.session(write=False) as session:
        return Counter(session.scalars(select(Message.contact_id).where(Message.direction == "out")).all())


def test_a_held_back_notice_goes_out_when_its_citizen_writes_in_a_batch(
    client: Any, runtime: Any, drain: Any
) -> None:
    for sender in ("081234600001", "081234600002"):
        _post(client, runtime, sender, "Air PDAM mati tiga hari")
    drain()
    with runtime.db.session() as session:
        contact_id = session.scalar(select(Contact.id).order_by(Contact.id).limit(1))
        session.add(
            Message(
                direction="out",
                channel="sms",
                address="tel:+6281234600001",
                text="Status laporan Anda berubah",
                contact_id=contact_id,
                delivery_status="waiting",
                dedupe_key="test-held-back",
            )
        )
    for sender in ("081234600001", "081234600002"):
        _post(client, runtime, sender, "Perumahan Griya Asri blok C")
    drain()
    with runtime.db.session(write=False) as session:
        status = session.scalar(select(Message.delivery_status).where(Message.dedupe_key == "test-held-back"))
    assert status not in ("waiting", None)
