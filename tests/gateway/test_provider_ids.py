"""A provider's message id is never taken for one of our row ids.

Aggregators choose their own message ids, and some are plain numbers: an SMS whose
``messageId`` is "62" must not bring our message row 62 (another citizen's, maybe a
confidential complaint) into its ticket's thread.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from adapters.sms import SmsAdapter
from gateway.store.models import Message, Ticket
from tests.inbox.conftest import login, make_operator

CONFIDENTIAL = "Pungutan liar oleh petugas kelurahan Sukamaju saat mengurus KTP, minta 200 ribu"


def say(client: Any, runtime: Any, drain: Any, sender: str, text: str, message_id: str | None = None) -> str:
    """One signed SMS from ``sender``; the replies it got."""
    adapter = SmsAdapter.from_env(runtime.settings.env)
    assert adapter is not None
    with runtime.db.session() as session:
        before = len(session.scalars(select(Message.id).where(Message.direction == "out")).all())
    req = adapter.simulate(sender, text, message_id=message_id)
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200, res.get_data(as_text=True)
    drain()
    with runtime.db.session() as session:
        new = session.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)).all()
    return "\n".join(m.text for m in new[before:])


def file_complaint(
    client: Any,
    runtime: Any,
    drain: Any,
    sender: str,
    complaint: str,
    privacy: str,
    first_message_id: str | None = None,
) -> str:
    """The whole dialogue by SMS; the tracking number."""
    text = say(client, runtime, drain, sender, complaint, first_message_id)
    for _ in range(5):
        if match := re.search(r"#(\d{8})", text):
            return match.group(1)
        if "Balas YA" in text:
            answer = "YA"
        elif "identitas" in text.lower():
            answer = privacy
        elif "Pilih kategori" in text:
            answer = "Lainnya"
        else:
            answer = "Kantor Kelurahan Sukamaju, Jl. Melati 2"
        text = say(client, runtime, drain, sender, answer)
    raise AssertionError(text)


def test_a_numeric_provider_id_does_not_pull_another_citizens_messages(
    app: Any, client: Any, runtime: Any, drain: Any
) -> None:
    confidential = file_complaint(client, runtime, drain, "081234500001", CONFIDENTIAL, "RAHASIA")
    with runtime.db.session() as session:
        theirs = session.scalars(
            select(Message.id).where(Message.address == "tel:+6281234500001", Message.direction == "in")
        ).all()
        make_operator(session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator")
    # Another citizen's aggregator numbers its messages: the first one's id is a row id of ours.
    other = file_complaint(
        client,
        runtime,
        drain,
        "081234500002",
        "Lampu jalan mati di gang Mawar sudah seminggu",
        "ANONIM",
        first_message_id=str(theirs[0]),
    )
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == other))
        assert ticket is not None
        mine = set(session.scalars(select(Message.id).where(Message.address == "tel:+6281234500002")).all())
        listed = set((ticket.data or {}).get("message_ids") or [])
        assert listed and listed <= mine  # row ids of this citizen's own messages, nothing else

    coordinator = app.test_client()
    assert login(coordinator, "koor@example.id").status_code == 302
    page = coordinator.get(f"/inbox/t/{other}").get_data(as_text=True)
    assert "Lampu jalan mati" in page
    assert "Pungutan liar" not in page
    timeline = coordinator.get(f"/inbox/t/{other}/timeline").get_data(as_text=True)
    assert "Pungutan liar" not in timeline
    # The confidential ticket's own thread still has its message.
    assert "Pungutan liar" in coordinator.get(f"/inbox/t/{confidential}").get_data(as_text=True)


def test_an_inbound_id_equal_to_one_of_our_sent_ids_is_a_new_message(
    client: Any, runtime: Any, drain: Any
) -> None:
    """An aggregator numbers what citizens send and what we send apart: the same id on a message
    in and a message out are two messages, and the citizen's must not be dropped as a copy."""
    assert say(client, runtime, drain, "081234500003", "Halo")
    with runtime.db.session() as session:
        sent_id = session.scalar(
            select(Message.provider_message_id).where(Message.direction == "out").order_by(Message.id)
        )
    assert sent_id
    answer = say(client, runtime, drain, "081234500003", "Jalan berlubang di Jl. Kenanga 5", sent_id)
    assert answer
    with runtime.db.session() as session:
        texts = session.scalars(select(Message.text).where(Message.direction == "in")).all()
    assert "Jalan berlubang di Jl. Kenanga 5" in texts


def test_a_follow_up_reaches_only_the_citizens_own_ticket(client: Any, runtime: Any, drain: Any) -> None:
    """The conversation names the ticket follow-ups go to; the gateway still keeps them to the
    citizen's own tickets (a state from another version or a hand edit cannot cross citizens)."""
    from gateway.store.models import Contact, ContactAddress, Conversation

    theirs = file_complaint(client, runtime, drain, "081234500004", CONFIDENTIAL, "RAHASIA")
    say(client, runtime, drain, "081234500005", "Halo")
    with runtime.db.session() as session:
        contact_id = session.scalar(
            select(ContactAddress.contact_id).where(ContactAddress.address == "tel:+6281234500005")
        )
        assert session.get(Contact, contact_id) is not None
        conv = session.scalar(select(Conversation).where(Conversation.contact_id == contact_id))
        assert conv is not None
        conv.state = {**conv.state, "stage": "filed", "open_ticket": theirs, "draft": None}
    say(client, runtime, drain, "081234500005", "Tambahan: saya juga melihat kejadian itu")
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == theirs))
        assert ticket is not None
        linked = session.scalars(select(Message.text).where(Message.ticket_id == ticket.id)).all()
    assert "Tambahan: saya juga melihat kejadian itu" not in linked
