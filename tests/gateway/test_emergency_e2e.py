"""Emergencies first, through the real pipeline: signed webhook in, rq worker, replies out.

A citizen who writes "rumah saya kebakaran" gets the emergency numbers as the
first reply stored (and sent) for that message, before the question about the
place; the complaint can still be filed, and its ticket leads the coordinator's
inbox with an emergency badge.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from adapters import adapter_class
from adapters.sms.segments import split_segments
from gateway.store.models import Message, Ticket
from tests.inbox.conftest import login, make_operator

CHANNELS = [
    ("sms", "081234567101"),
    ("twilio", "whatsapp:+6281234567102"),
    ("whatsapp", "+6281234567103"),
    ("telegram", "700000104"),
]


class Citizen:
    """One citizen on one channel; each message returns the replies it got, in the order stored."""

    def __init__(self, client: Any, runtime: Any, drain: Any, channel: str, sender: str) -> None:
        self.client, self.runtime, self.drain = client, runtime, drain
        self.adapter = adapter_class(channel).from_env(runtime.settings.env)
        self.sender = sender
        self.seen: set[int] = set()

    def says(self, text: str) -> list[Message]:
        req = self.adapter.simulate(self.sender, text)
        res = self.client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
        assert res.status_code == 200, res.get_data(as_text=True)
        self.drain()
        with self.runtime.db.session() as session:
            rows = session.scalars(
                select(Message).where(Message.direction == "out").order_by(Message.id)
            ).all()
            session.expunge_all()
        new = [r for r in rows if r.id not in self.seen]
        self.seen.update(r.id for r in new)
        assert new, f"no reply to {text!r}"
        assert all(r.delivery_status in ("sent", "delivered", "queued") for r in new), [
            (r.delivery_status, r.failure_reason) for r in new
        ]
        return new


@pytest.mark.parametrize(("channel", "sender"), CHANNELS, ids=[c for c, _ in CHANNELS])
def test_the_numbers_come_first_then_the_complaint_is_filed_and_leads_the_inbox(
    app: Any, client: Any, runtime: Any, drain: Any, channel: str, sender: str
) -> None:
    citizen = Citizen(client, runtime, drain, channel, sender)
    first, *rest = citizen.says("Tolong!! rumah saya kebakaran, api besar")
    for number in ("112", "110", "113", "119"):
        assert number in first.text, first.text
    assert "lokasi" not in first.text.lower() and "kategori" not in first.text.lower()
    assert any("di mana" in r.text.lower() for r in rest)  # the intake goes on after the numbers
    if channel == "sms":
        plan = split_segments(first.text)
        assert plan.encoding == "gsm7" and plan.count == 1  # a cheap phone, little credit

    text = ""
    for answer in ("Jl. Melati 4, Kel. Sukajadi", "lainnya", "ANONIM", "YA"):
        text = "\n".join(r.text for r in citizen.says(answer))
        if "#" in text:
            break
    match = re.search(r"#(\d{8})", text)
    assert match, text
    tracking = match.group(1)
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None and ticket.data.get("emergency") == "fire"

    # Older ordinary complaints are in the inbox too; the emergency still comes first.
    with runtime.db.session() as session:
        make_operator(session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator")
    inbox = app.test_client()
    assert login(inbox, "koor@example.id").status_code == 302
    html = inbox.get("/inbox/tickets").get_data(as_text=True)
    order = re.findall(r'data-tracking="(\d{8})"', html)
    assert order and order[0] == tracking
    assert "badge-emergency" in html


def test_an_ordinary_complaint_gets_no_numbers(client: Any, runtime: Any, drain: Any) -> None:
    citizen = Citizen(client, runtime, drain, "sms", "081234567111")
    replies = citizen.says("Lampu jalan mati di gang mawar sudah seminggu")
    assert not any("112" in r.text for r in replies)


def test_a_follow_up_emergency_flags_the_open_ticket(client: Any, runtime: Any, drain: Any) -> None:
    citizen = Citizen(client, runtime, drain, "whatsapp", "+6281234567112")
    text = ""
    complaint = "Sampah menumpuk di pasar Sukamaju sudah seminggu"
    for answer in (complaint, "Pasar Sukamaju, Jl. Pasar 1", "ANONIM", "YA"):
        text = "\n".join(r.text for r in citizen.says(answer))
        if "#" in text:
            break
    tracking = re.search(r"#(\d{8})", text).group(1)  # type: ignore[union-attr]
    first, *_ = citizen.says("sekarang tumpukan sampahnya kebakaran, apinya merembet ke kios")
    assert "112" in first.text
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None and ticket.data.get("emergency") == "fire"
        assert ticket.has_unread


def _received(providers: dict[str, Any], channel: str) -> list[str]:
    """What the channel's provider was asked to deliver, one JSON text per message, in order."""
    import json

    if channel == "sms":
        items: list[Any] = list(providers["sms"].sent)
    elif channel == "twilio":
        items = list(providers["twilio"].sent)
    elif channel == "whatsapp":
        items = providers["whatsapp"].sent_messages()
    else:
        items = providers["telegram"].calls("sendMessage")
    return [json.dumps(item, ensure_ascii=False, default=str) for item in items]


@pytest.mark.parametrize(("channel", "sender"), CHANNELS, ids=[c for c, _ in CHANNELS])
def test_the_category_menu_each_provider_renders_offers_other_or_not_sure(
    client: Any, runtime: Any, drain: Any, providers: dict[str, Any], channel: str, sender: str
) -> None:
    citizen = Citizen(client, runtime, drain, channel, sender)
    citizen.says("Pelayanan kantor sangat lambat dan petugasnya kasar")
    before = len(_received(providers, channel))
    menu = citizen.says("Jl. Merdeka 5, Kel. Sukajadi")
    assert any("Pilih kategori" in r.text for r in menu)
    sent = [p for p in _received(providers, channel)[before:] if "Pilih kategori" in p]
    assert sent, "the menu did not reach the provider"
    # The SMS text, the Twilio body, the WhatsApp list row, the Telegram inline button.
    assert "Lainnya / tidak tahu" in sent[-1], sent[-1]
    replies = citizen.says("pokoknya harus ditegur")
    assert any("LAINNYA" in r.text for r in replies)  # one retry, saying how to get out
    replies = citizen.says("pokoknya harus ditegur sekarang juga")
    assert any("Kategori: Lainnya" in r.text for r in replies)  # then it moves on
    assert any("identitas" in r.text.lower() for r in replies)
