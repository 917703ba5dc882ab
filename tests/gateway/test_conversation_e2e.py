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
from gateway.store.models import Message, Ticket

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

    def _new_replies(self) -> list[Message]:
        """Run the worker; the outbound messages stored since the last look."""
        self.drain()
        with self.runtime.db.session() as session:
            replies = session.scalars(
                select(Message).where(Message.direction == "out").order_by(Message.id)
            ).all()
        new = list(replies[self.seen :])
        self.seen = len(replies)
        return new

    def says(self, text: str) -> str:
        req = self.adapter.simulate(self.sender, text)
        res = self.client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
        assert res.status_code == 200, res.get_data(as_text=True)
        new = self._new_replies()
        assert new, f"no reply to {text!r}"
        assert all(r.delivery_status in ("sent", "delivered", "queued") for r in new)
        return "\n".join(r.text for r in new)

    def says_nothing_and_reads(self) -> str:
        """Run the worker and return what was sent to this citizen since the last look."""
        new = self._new_replies()
        assert new, "no update reached the citizen"
        assert all(r.delivery_status == "sent" for r in new), [
            (r.delivery_status, r.failure_reason) for r in new
        ]
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


def test_status_changes_reach_the_citizen_on_their_channel(
    client: Any, runtime: Any, drain: Any, providers: dict[str, Any]
) -> None:
    from gateway.web.api.auth import create_token

    citizen = Citizen(client, runtime, drain, "whatsapp", "+6281234567010")
    citizen.says("Sampah menumpuk di pasar Sukamaju sudah seminggu")
    text = ""
    for answer in ("Pasar Sukamaju, Jl. Pasar 1", "ANONIM", "YA"):
        text = citizen.says(answer)
        if "#" in text:
            break
    tracking = re.search(r"#(\d{8})", text).group(1)  # type: ignore[union-attr]
    with runtime.db.session() as session:
        _, token = create_token(session, "city-system")
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/tickets/{tracking}/status"
    steps = [
        ({"status": "dispatched", "agency": "dlh"}, "Dinas Lingkungan Hidup"),
        ({"status": "in_progress"}, "diproses"),
        ({"status": "resolved", "note": "Sampah sudah diangkut"}, "Sampah sudah diangkut"),
    ]
    for body, expected in steps:
        res = client.post(url, json=body, headers=headers)
        assert res.status_code == 200, res.get_json()
        update = citizen.says_nothing_and_reads()
        assert expected.lower() in update.lower(), update
    texts = [m["text"]["body"] for m in providers["whatsapp"].sent_messages() if m.get("type") == "text"]
    assert any("Sampah sudah diangkut" in t for t in texts)
