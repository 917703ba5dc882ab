"""What the citizen is told when their ticket goes to an agency: in order, once, and true.

* A category dispatched at once: the citizen's confirmation says where it went; no
  "forwarded" notice before "filed", and no promise of a verification that already happened.
* Sent back as "bukan wewenang" and dispatched again to the same agency: no second notice
  identical to the first.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from gateway.store.models import Message, Ticket
from tests.gateway.test_conversation_e2e import Citizen
from tests.tickets.conftest import TicketFactory, config_dir, load
from tests.tickets.test_service import act, outbound

AUTO_SAMPAH = {
    "categories": [
        {
            "code": "sampah",
            "name": {"id": "Sampah", "en": "Waste"},
            "keywords": ["sampah"],
            "auto_dispatch": True,
        },
        {"code": "jalan", "name": {"id": "Jalan rusak"}, "keywords": ["jalan", "berlubang"]},
        {"code": "lainnya", "name": {"id": "Lainnya"}},
    ]
}


def test_auto_dispatched_complaint_is_filed_then_told_where_it_went(runtime_with: Any, tmp_path: Any) -> None:
    from gateway.app import create_app
    from tests.helpers import drain_jobs

    runtime = runtime_with(LAPOR_CONFIG_DIR=str(config_dir(tmp_path, categories=AUTO_SAMPAH)))
    client = create_app(runtime=runtime, WTF_CSRF_ENABLED=False).test_client()
    citizen = Citizen(client, runtime, lambda **kw: drain_jobs(runtime, **kw), "whatsapp", "+6281234567130")
    citizen.says("Sampah menumpuk tidak diangkut sudah seminggu, bau sekali")
    for answer in ("Jl. Melati 3, Kelurahan Sukamaju", "ANONIM", "YA"):
        if citizen.says(answer) and re.search(r"#\d{8}", _texts(runtime)[-1]):
            break
    texts = _texts(runtime)
    filed_at = next(i for i, text in enumerate(texts) if re.search(r"#\d{8}", text))
    after = texts[filed_at:]
    assert re.search(r"#\d{8}", after[0]) and "Dinas Lingkungan Hidup" in after[0], after
    assert not any("verifikasi" in t.lower() or "memverifikasi" in t.lower() for t in after), after
    assert sum("Dinas Lingkungan Hidup" in t for t in texts) == 1, texts  # not twice
    with runtime.db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.status == "dispatched" and ticket.agency is not None and ticket.agency.code == "dlh"


def _texts(runtime: Any) -> list[str]:
    with runtime.db.session() as session:
        return [
            m.text
            for m in session.scalars(select(Message).where(Message.direction == "out").order_by(Message.id))
        ]


def test_dispatched_again_to_the_same_agency_tells_the_citizen_once(
    runtime: Any, make_ticket: TicketFactory, coordinator: Any, dpupr: Any, dlh: Any
) -> None:
    tracking = make_ticket()
    act(runtime, tracking, "dispose", coordinator, agency="dpupr")
    act(runtime, tracking, "not_our_authority", dpupr, note="Saluran kota, bukan jalan")
    act(runtime, tracking, "dispose", coordinator, agency="dpupr")
    with runtime.db.session() as session:
        texts = [m.text for m in outbound(session, tracking)]
        assert load(session, tracking).status == "dispatched"
    forwarded = [t for t in texts if "Dinas Pekerjaan Umum" in t]
    assert len(forwarded) == 1, texts
    # To another agency after that: news, so told.
    act(runtime, tracking, "not_our_authority", dpupr, note="Bukan wewenang kami")
    act(runtime, tracking, "dispose", coordinator, agency="dlh")
    act(runtime, tracking, "not_our_authority", dlh, note="Bukan wewenang kami juga")
    act(runtime, tracking, "dispose", coordinator, agency="dpupr")
    with runtime.db.session() as session:
        texts = [m.text for m in outbound(session, tracking)]
    assert sum("Dinas Lingkungan Hidup" in t for t in texts) == 1
    assert sum("Dinas Pekerjaan Umum" in t for t in texts) == 2, texts  # back to PU after DLH: news again


def test_walk_in_auto_dispatched_gets_one_notice_without_a_verification_promise(
    runtime_with: Any, tmp_path: Any
) -> None:
    from gateway.messages.ingest import find_or_create_contact
    from gateway.tickets.service import Actor, create_ticket

    runtime = runtime_with(LAPOR_CONFIG_DIR=str(config_dir(tmp_path, categories=AUTO_SAMPAH)))
    with runtime.db.session() as session:
        contact, _ = find_or_create_contact(session, "tel:+6281234567131", "sms", "Budi")
        ticket = create_ticket(
            session,
            runtime,
            contact=contact,
            description="Sampah menumpuk di TPS pasar sudah seminggu",
            category="sampah",
            channel="sms",
            address="tel:+6281234567131",
            source="operator",
            actor=Actor.system("Petugas loket"),
        )
        texts = [m.text for m in outbound(session, ticket.tracking)]
    assert len(texts) == 1, texts
    assert f"#{ticket.tracking}" in texts[0] and "Dinas Lingkungan Hidup" in texts[0]
    assert "verifikasi" not in texts[0].lower()
