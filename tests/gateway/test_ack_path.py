"""The webhook ack: duplicates read without the write lock, one row per provider id, a job per message."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.base import InboundMessage, ParseResult
from adapters.sms import SmsAdapter
from gateway.messages.ingest import store_parse_result
from gateway.store.models import Contact, ContactAddress, Job, Message

SENDER = "tel:+6281234500001"


def post(client: Any, adapter: Any, sender: str, text: str, message_id: str) -> Any:
    req = adapter.simulate(sender, text, message_id=message_id)
    return client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)


def count(runtime: Any, model: Any, *where: Any) -> int:
    with runtime.db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def inbound(message_id: str, sender: str = SENDER, name: str | None = None) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        provider_message_id=message_id,
        sender=sender,
        recipient="1708",
        text="Lampu jalan mati",
        sender_name=name,
    )


def test_a_duplicate_is_answered_while_another_request_holds_the_write_lock(
    client: Any, runtime: Any
) -> None:
    if runtime.db.write_lock is None:
        pytest.skip("only SQLite has a single writer")
    adapter = SmsAdapter.from_env(runtime.settings.env)
    assert post(client, adapter, "081234500001", "Lampu jalan mati", "ack-dup-1").status_code == 200
    statuses: list[int] = []
    holding, done = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with runtime.db.session():  # a long write transaction in another thread
            holding.set()
            done.wait(30)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert holding.wait(10)
        retry = threading.Thread(
            target=lambda: statuses.append(
                post(client, adapter, "081234500001", "Lampu jalan mati", "ack-dup-1").status_code
            )
        )
        retry.start()
        retry.join(20)
        assert statuses == [200]  # answered without waiting for the writer
    finally:
        done.set()
        holder.join(30)
    assert count(runtime, Message, Message.direction == "in") == 1


def test_same_id_twice_in_one_body_is_stored_once_with_one_job(runtime: Any) -> None:
    parsed = ParseResult(messages=[inbound("ack-twice-1"), inbound("ack-twice-1"), inbound("ack-twice-2")])
    outcome = store_parse_result(runtime, "sms", parsed)
    assert (outcome.new_messages, outcome.duplicates) == (2, 1)
    assert count(runtime, Message, Message.direction == "in") == 2
    with runtime.db.session(write=False) as session:
        jobs = session.scalars(select(Job).where(Job.kind == "process_inbound")).all()
        assert sorted(j.payload["message_id"] for j in jobs) == sorted(outcome.message_ids)
        assert all(j.status == "pending" and j.enqueued_at is not None for j in jobs)
    again = store_parse_result(runtime, "sms", parsed)
    assert (again.new_messages, again.duplicates) == (0, 3)
    assert count(runtime, Job, Job.kind == "process_inbound") == 2


def test_first_contact_creates_one_contact_and_later_messages_reuse_it(runtime: Any) -> None:
    store_parse_result(runtime, "sms", ParseResult(messages=[inbound("ack-c-1")]))
    with runtime.db.session() as session:
        address = session.scalars(select(ContactAddress).where(ContactAddress.address == SENDER)).one()
        address.unreachable = True  # e.g. the provider reported them opted out
    store_parse_result(runtime, "sms", ParseResult(messages=[inbound("ack-c-2", name="Siti")]))
    assert count(runtime, Contact) == 1
    with runtime.db.session(write=False) as session:
        address = session.scalars(select(ContactAddress).where(ContactAddress.address == SENDER)).one()
        assert address.unreachable is False  # they wrote to us, so they can be reached again
        assert address.last_inbound_at is not None
        contact = session.get(Contact, address.contact_id)
        assert contact is not None and contact.display_name == "Siti"
        ids = set(session.scalars(select(Message.contact_id).where(Message.direction == "in")))
        assert ids == {contact.id}
