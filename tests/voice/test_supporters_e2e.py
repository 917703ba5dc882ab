""" "Ikut melapor" end to end (issue 20, part 1): duplicates found at filing and merged with one
click, IKUT/JOIN on any channel, updates reaching every supporter on their own channel and in
their own language, the counts on the public page and the dashboard, and the inbox order."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from gateway.store.models import Ticket, TicketSupporter
from gateway.web.api.auth import create_token
from tests.inbox.conftest import login, make_operator
from tests.voice.citizen import Citizen

PLACE = "Gang Mawar, Kel. Gegerkalong"


def _api(runtime: Any) -> dict[str, str]:
    with runtime.db.session() as session:
        _row, token = create_token(session, "city-system")
    return {"Authorization": f"Bearer {token}"}


def _status(client: Any, headers: dict[str, str], tracking: str, **body: str) -> None:
    res = client.post(f"/api/v1/tickets/{tracking}/status", json=body, headers=headers)
    assert res.status_code == 200, res.get_json()


def _ticket(runtime: Any, tracking: str) -> Ticket:
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        session.expunge_all()
        return ticket


def _coordinator(app: Any, runtime: Any, email: str) -> Any:
    with runtime.db.session() as session:
        make_operator(session, email, "coordinator", "diskominfo", "Kiki Koordinator")
    inbox = app.test_client()
    assert login(inbox, email).status_code == 302
    return inbox


def test_a_duplicate_is_found_at_filing_merged_with_one_click_and_its_reporter_follows_the_original(
    app: Any, client: Any, runtime: Any, drain: Any
) -> None:
    headers = _api(runtime)
    first = Citizen(client, runtime, drain, "sms", "081234567501")
    original = first.files("Lampu jalan mati sudah seminggu, gelap sekali kalau malam", PLACE)
    _status(client, headers, original, status="dispatched", agency="dpupr")
    first.reads()

    second = Citizen(client, runtime, drain, "telegram", "700000502")
    second.says("BAHASA EN")
    duplicate = second.files("Lampu jalan mati, gelap tiap malam sudah seminggu", PLACE)
    noted = _ticket(runtime, duplicate).data["duplicates"]
    assert noted[0]["tracking"] == original and 0 < noted[0]["score"] <= 1

    inbox = _coordinator(app, runtime, "koor@example.id")
    page = inbox.get(f"/inbox/t/{duplicate}").get_data(as_text=True)
    assert f'data-candidate="{original}"' in page and "kemiripan" in page
    res = inbox.post(f"/inbox/t/{duplicate}/merge", data={"into": original})
    assert res.status_code == 302 and original in res.headers["Location"]

    merged = _ticket(runtime, duplicate)
    assert merged.status == "archived"
    told = second.reads()
    assert len(told) == 1 and "You now support" in told[0].text and f"#{original}" in told[0].text
    assert "archived" not in told[0].text.lower()  # not the usual "archived" notice
    with runtime.db.session() as session:
        [row] = session.scalars(select(TicketSupporter)).all()
        assert (row.channel, row.language, row.privacy, row.source) == ("telegram", "en", "public", "merge")
    assert _ticket(runtime, original).data["supporters"] == 1
    assert "1 warga ikut melapor" in inbox.get(f"/inbox/t/{original}").get_data(as_text=True)

    _status(client, headers, original, status="resolved", note="Lampu sudah diganti")
    own = first.reads()
    theirs = second.reads()
    assert any("selesai" in m.text and "Lampu sudah diganti" in m.text for m in own)
    assert [m.text for m in theirs if "resolved" in m.text and f"#{original}" in m.text], [
        m.text for m in theirs
    ]
    assert not any("How satisfied" in m.text for m in theirs)  # the reporter rates; a supporter is told

    dash = inbox.get("/inbox/dashboard").get_data(as_text=True)
    assert re.search(r'<div class="card-num">1</div><div class="card-label">Warga yang ikut melapor', dash)
    public = client.get("/statistik").get_data(as_text=True)
    assert "2 pelapor" in public
    assert "2 pelapor" in client.get(f"/lacak/{original}").get_data(as_text=True)
    assert client.get("/api/v1/stats", headers=headers).get_json()["supporters"] == 1


def test_ikut_and_join_work_on_any_channel_for_verified_public_tickets_only(
    client: Any, runtime: Any, drain: Any
) -> None:
    headers = _api(runtime)
    reporter = Citizen(client, runtime, drain, "whatsapp", "+6281234567511")
    public = reporter.files("Sampah menumpuk sudah seminggu, bau sekali", PLACE)
    _status(client, headers, public, status="dispatched", agency="dlh")
    unverified = Citizen(client, runtime, drain, "sms", "081234567512").files(
        "Saluran air tersumbat, air meluap ke jalan", PLACE
    )

    sms = Citizen(client, runtime, drain, "sms", "081234567513")
    assert "kini 2 pelapor" in sms.text_of(f"IKUT {public}")
    assert "sudah ikut melapor" in sms.text_of(f"ikut #{public}")
    assert "tidak ditemukan" in sms.text_of(f"IKUT {unverified}")  # nothing told of an unverified ticket
    assert "laporan Anda sendiri" in reporter.text_of(f"IKUT {public}")

    wa = Citizen(client, runtime, drain, "whatsapp", "+6281234567514")
    assert "kini 3 pelapor" in wa.text_of(f"JOIN {public}")

    _status(client, headers, public, status="in_progress", note="Truk dikirim besok pagi")
    for supporter in (sms, wa):
        updates = supporter.reads()
        assert any("Truk dikirim besok pagi" in m.text and f"#{public}" in m.text for m in updates)
        assert all(m.delivery_status in ("sent", "delivered", "queued") for m in updates)

    # Rate-limited per sender: five a day, answered or not.
    assert "tidak ditemukan" in sms.text_of(f"IKUT {unverified}")
    assert "tidak ditemukan" in sms.text_of(f"IKUT {unverified}")
    assert "terlalu banyak" in sms.text_of(f"IKUT {public}")
    with runtime.db.session() as session:
        assert len(session.scalars(select(TicketSupporter)).all()) == 2


def test_tickets_with_many_supporters_rise_in_the_inbox_above_the_threshold(
    app: Any, runtime: Any, make_ticket: Any
) -> None:
    from gateway.store.models import Contact
    from gateway.tickets import supporters

    popular = make_ticket()
    later = [make_ticket() for _ in range(2)]
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == popular))
        assert ticket is not None
        for n in range(3):
            contact = Contact(display_name=f"Warga {n}")
            session.add(contact)
            session.flush()
            session.add(
                TicketSupporter(ticket_id=ticket.id, contact_id=contact.id, channel="sms", source="join")
            )
        supporters._recount(session, ticket)
    inbox = _coordinator(app, runtime, "koor3@example.id")
    html = inbox.get("/inbox/tickets").get_data(as_text=True)
    order = re.findall(r'data-tracking="(\d{8})"', html)
    assert order.index(popular) < min(order.index(t) for t in later)
