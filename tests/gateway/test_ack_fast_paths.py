"""The ack's cheaper paths (`gateway.store.fast_sql`) keep the behaviour of the plain ones.

These are also the check that an upgraded SQLAlchemy still suits `gateway.store.fast_sql`: run
them on SQLite and on PostgreSQL after any upgrade.

* the duplicate check reads on a bare pooled DBAPI connection: same answers, and a
  database error is still a SQLAlchemy error (503 upstream); on PostgreSQL it runs in
  autocommit, no BEGIN and no ROLLBACK around it, and the connection goes back to the pool
  transactional again;
* the per-sender rate count rides on the sender lookup: a body of many messages from one
  sender is counted message by message inside its own transaction, as before;
* no rate limit (0) reads no count at all and throttles nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from adapters.base import InboundMessage, ParseResult
from gateway.messages.ingest import _already_stored, store_parse_result
from gateway.store.fast_sql import read_rows
from gateway.store.models import Contact, Job, Message

SENDER = "tel:+6281234500077"


def _msg(message_id: str, channel: str = "sms", sender: str = SENDER) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        provider_message_id=message_id,
        sender=sender,
        recipient="1708",
        text="Jalan berlubang",
    )


def _throttled(runtime: Any) -> int:
    with runtime.db.session(write=False) as session:
        rows = session.scalars(select(Message.raw).where(Message.direction == "in")).all()
    return sum(1 for raw in rows if (raw or {}).get("throttled"))


def test_already_stored_answers_by_channel_and_provider_id(runtime: Any) -> None:
    store_parse_result(runtime, "sms", ParseResult(messages=(_msg("a-1"), _msg("a-2"))))
    asked = [_msg("a-1"), _msg("a-2"), _msg("a-3"), _msg("a-1", channel="twilio")]
    assert _already_stored(runtime, asked) == {("sms", "a-1"), ("sms", "a-2")}
    assert _already_stored(runtime, [_msg("nope")]) == set()


def test_a_failed_read_is_raised_as_a_sqlalchemy_error(runtime: Any) -> None:
    with pytest.raises(DBAPIError):
        read_rows(runtime.db.engine, "SELECT no_such_column FROM messages", ())
    # The connection went back to the pool in a usable state.
    assert _already_stored(runtime, [_msg("x")]) == set()


def test_the_duplicate_check_opens_no_transaction_on_postgresql(runtime: Any) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite's pooled connections are in autocommit already")
    # A statement that is its own transaction started when it did; after a separate BEGIN
    # (two round trips more per ack, counted by bench.profile) it started later.
    for _ in range(3):
        assert read_rows(runtime.db.engine, "SELECT now() = statement_timestamp()", ()) == [(True,)]
    # The pooled connection is transactional again for the writers.
    with runtime.db.engine.connect() as conn:
        assert conn.connection.driver_connection.autocommit is False


def test_many_messages_of_one_new_sender_in_one_body_are_counted_one_by_one(settings: Any) -> None:
    from gateway.runtime import Runtime

    runtime = Runtime(replace(settings, sender_rate_per_minute=3))
    try:
        body = ParseResult(messages=tuple(_msg(f"burst-{i}") for i in range(5)))
        outcome = store_parse_result(runtime, "sms", body)
        assert outcome.new_messages == 5
        # The first three fit in the minute, the next two are kept but throttled.
        assert _throttled(runtime) == 2
        with runtime.db.session(write=False) as session:
            assert session.scalar(select(func.count(Contact.id))) == 1
            jobs = session.scalars(select(Job.kind)).all()
        assert jobs.count("process_inbound") == 3
        # A known sender over the limit in a later request: throttled from the lookup's count.
        store_parse_result(runtime, "sms", ParseResult(messages=(_msg("later-1"),)))
        assert _throttled(runtime) == 3
    finally:
        runtime.close()


def test_no_rate_limit_throttles_nothing(settings: Any) -> None:
    from gateway.runtime import Runtime

    runtime = Runtime(replace(settings, sender_rate_per_minute=0))
    try:
        for i in range(4):
            store_parse_result(runtime, "sms", ParseResult(messages=(_msg(f"free-{i}"), _msg(f"free-{i}b"))))
        assert _throttled(runtime) == 0
        with runtime.db.session(write=False) as session:
            assert session.scalar(select(func.count(Message.id)).where(Message.direction == "in")) == 8
    finally:
        runtime.close()


def _rich(message_id: str, **over: Any) -> InboundMessage:
    from datetime import UTC, datetime

    from adapters.base import Attachment, Location, Segment

    fields: dict[str, Any] = {
        "channel": "whatsapp",
        "provider_message_id": message_id,
        "sender": "whatsapp:+6281234500099",
        "recipient": "+15550001",
        "text": "Banjir \x00setinggi lutut 😀\n",
        "kind": "image",
        "sender_name": "Siti",
        "attachments": (Attachment(kind="image", content_type="image/jpeg", media_id="m-1", size=12),),
        "location": Location(latitude=-6.2, longitude=106.8, name="RT 05"),
        "timestamp": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "language": "id",
        "button_payload": "yes",
        "segment": Segment(reference="ref", total=2, number=1),
        "raw": {"nested": {"list": [1, 2.5, None, True], "text": "\ud83d"}},
    }
    return InboundMessage(**(fields | over))


def test_the_stored_row_is_the_row_the_orm_would_store(runtime: Any) -> None:
    """Every column, as the database holds it (SQLite's text encodings included)."""
    from sqlalchemy import text

    from gateway.messages.ingest import message_row

    store_parse_result(runtime, "whatsapp", ParseResult(messages=(_rich("fast-1"),)))
    with runtime.db.session() as session:
        contact_id = session.scalar(select(Message.contact_id).where(Message.provider_message_id == "fast-1"))
        row = message_row(_rich("orm-1"), contact_id)
        row.created_at = session.scalar(
            select(Message.created_at).where(Message.provider_message_id == "fast-1")
        )
        session.add(row)
    with runtime.db.engine.connect() as conn:
        stored = {
            r.provider_message_id: r._asdict()
            for r in conn.execute(text("SELECT * FROM messages WHERE direction = 'in' ORDER BY id"))
        }
    fast, orm = stored["fast-1"], stored["orm-1"]
    for column in ("id", "provider_message_id"):
        fast.pop(column), orm.pop(column)
    assert fast == orm
    assert fast["text"] == "Banjir setinggi lutut 😀\n"
    with runtime.db.engine.connect() as conn:
        contact = conn.execute(text("SELECT * FROM contacts")).one()._asdict()
        address = conn.execute(text("SELECT * FROM contact_addresses")).one()._asdict()
    assert contact["created_at"] is not None and contact["opted_out"] in (0, False)
    assert contact["display_name"] == "Siti" and contact["language"] == "id"
    assert address["created_at"] is not None and address["unreachable"] in (0, False)
    assert address["last_inbound_at"] is not None and address["channel"] == "whatsapp"


def test_a_known_sender_is_touched_and_named(runtime: Any) -> None:
    from gateway.store.models import ContactAddress

    store_parse_result(runtime, "whatsapp", ParseResult(messages=(_rich("k-1", sender_name=None),)))
    with runtime.db.session() as session:
        session.execute(ContactAddress.__table__.update().values(unreachable=True, last_inbound_at=None))
    store_parse_result(runtime, "whatsapp", ParseResult(messages=(_rich("k-2", sender_name="Budi"),)))
    with runtime.db.session(write=False) as session:
        address = session.scalars(select(ContactAddress)).one()
        assert address.unreachable is False and address.last_inbound_at is not None
        assert session.scalar(select(Contact.display_name)) == "Budi"
        assert session.scalar(select(func.count(Contact.id))) == 1
