"""A citizen files a complaint end to end on every channel, in Indonesian and English.

Signed webhooks in (built by each adapter's own `simulate`), the real rq worker,
replies out through the real client libraries to the loopback providers.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from adapters import adapter_class
from gateway.models import Message, Ticket

CHANNELS = [
    ("sms", "081234567001"),
    ("twilio", "whatsapp:+6281234567002"),
    ("whatsapp", "+6281234567003"),
    ("telegram", "700000004"),
]


class Citizen:
    def __init__(self, client: Any, runtime: Any, drain: Any, channel: str, sender: str) -> None:
        self.client, self.runtime, self.drain = client, runtime, drain
        self.adapter = adapter_class(channel).from_env(runtime.settings.env)
        self.sender = sender
        self.seen = 0

    def says(self, text: str) -> str:
        req = self.adapter.simulate(self.sender, text)
        res = self.client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
        assert res.status_code == 200, res.get_data(as_text=True)
        self.drain()
        with self.runtime.db.session() as session:
            replies = session.scalars(
                select(Message).where(Message.direction == "out").order_by(Message.id)
            ).all()
        new = replies[self.seen :]
        self.seen = len(replies)
        assert new, f"no reply to {text!r}"
        assert all(r.delivery_status in ("sent", "delivered", "queued") for r in new)
        return "\n".join(r.text for r in new)


@pytest.mark.parametrize(("channel", "sender"), CHANNELS, ids=[c for c, _ in CHANNELS])
def test_file_and_check_a_complaint_in_indonesian(
    client: Any, runtime: Any, drain: Any, channel: str, sender: str
) -> None:
    citizen = Citizen(client, runtime, drain, channel, sender)
    first = citizen.says("Jalan berlubang besar di depan SDN 3 Sukamaju, sudah dua bulan")
    assert "lokasi" in first.lower() or "di mana" in first.lower()
    second = citizen.says("Jl. Merdeka no 10, Kec. Sukamaju")
    assert "identitas" in second.lower()
    summary = citizen.says("ANONIM")
    assert "YA" in summary
    filed = citizen.says("YA")
    match = re.search(r"#(\d{8})", filed)
    assert match, filed
    tracking = match.group(1)
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        assert ticket.category == "jalan"
        assert ticket.privacy == "anonymous"
        assert ticket.channel == channel
        assert ticket.agency_id is not None  # every ticket has an owner
    status = citizen.says(f"STATUS {tracking}")
    assert "Belum Terverifikasi" in status
    wrong = tracking[:-1] + str((int(tracking[-1]) + 1) % 10)
    assert "tidak valid" in citizen.says(f"CEK {wrong}").lower()


def test_file_a_complaint_in_english_on_telegram(client: Any, runtime: Any, drain: Any) -> None:
    citizen = Citizen(client, runtime, drain, "telegram", "700000099")
    citizen.says("BAHASA EN")
    first = citizen.says("Street light broken at Jl. Kenanga 5 for a week now")
    text = first
    for answer in ("ANONIM", "YA"):
        if "#" in text:
            break
        text = citizen.says(answer)
    match = re.search(r"#(\d{8})", text)
    assert match, text
    assert "working days" in text.lower()
    status = citizen.says(f"STATUS {match.group(1)}")
    assert "Not yet verified" in status
