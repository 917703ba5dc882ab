"""One citizen, one thread: the same phone number on SMS and WhatsApp is one contact.

A WhatsApp citizen whose update fell back to SMS answers by SMS: that answer must reach
their ticket, and ``STATUS`` must find it, whichever of the two addresses they write from.
Signed webhooks in, the real rq worker, the loopback providers (as the e2e tests do).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from gateway.store.models import ContactAddress, Message, Ticket
from tests.gateway.test_conversation_e2e import Citizen


def _file(citizen: Citizen) -> str:
    text = citizen.says("Jalan berlubang besar di depan SDN 3 Sukamaju, sudah dua bulan")
    for answer in ("Jl. Merdeka no 10, Kec. Sukamaju", "ANONIM", "YA"):
        if "#" in text:
            break
        text = citizen.says(answer)
    match = re.search(r"#(\d{8})", text)
    assert match, text
    return match.group(1)


def test_whatsapp_citizen_answering_by_sms_is_the_same_citizen(client: Any, runtime: Any, drain: Any) -> None:
    on_whatsapp = Citizen(client, runtime, drain, "whatsapp", "+6281234567100")
    tracking = _file(on_whatsapp)
    on_sms = Citizen(client, runtime, drain, "sms", "0812-3456-7100")
    on_sms.seen = on_whatsapp.seen

    status = on_sms.says(f"STATUS {tracking}")
    assert "Belum Terverifikasi" in status, status

    on_whatsapp.seen = on_sms.seen
    answer = on_sms.says("Tambahan: lubangnya sekarang makin lebar")
    assert f"#{tracking}" in answer and "Tambahan" in answer, answer
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        added = session.scalar(select(Message).where(Message.text.like("Tambahan:%")))
        assert added is not None and added.ticket_id == ticket.id
        assert session.scalar(select(Ticket.id).where(Ticket.tracking != tracking)) is None
        owners = {
            a.address: a.contact_id
            for a in session.scalars(
                select(ContactAddress).where(ContactAddress.address.like("%+6281234567100"))
            )
        }
    assert set(owners) == {"whatsapp:+6281234567100", "tel:+6281234567100"}
    assert len(set(owners.values())) == 1


def test_sms_first_then_twilio_whatsapp_is_one_contact(client: Any, runtime: Any, drain: Any) -> None:
    on_sms = Citizen(client, runtime, drain, "sms", "081234567101")
    tracking = _file(on_sms)
    on_twilio = Citizen(client, runtime, drain, "twilio", "whatsapp:+6281234567101")
    on_twilio.seen = on_sms.seen
    assert "Belum Terverifikasi" in on_twilio.says(f"CEK {tracking}")


def test_different_numbers_stay_different_citizens(client: Any, runtime: Any, drain: Any) -> None:
    one = Citizen(client, runtime, drain, "whatsapp", "+6281234567102")
    tracking = _file(one)
    other = Citizen(client, runtime, drain, "sms", "081234567103")
    other.seen = one.seen
    assert "Belum Terverifikasi" not in other.says(f"STATUS {tracking}")
