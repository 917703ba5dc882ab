"""End to end in a real browser: a WhatsApp complaint from arrival to resolution, without the command line."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from gateway.store.models import Message, Ticket
from tests.browser.conftest import login
from tests.inbox.conftest import file_ticket, make_operator

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CITIZEN = "+6281234567890"


def _post_whatsapp(live_server: str, runtime: Any, text: str) -> None:
    request = runtime.adapter("whatsapp").simulate(CITIZEN, text)
    response = requests.request(
        request.method,
        live_server + request.path,
        headers=dict(request.headers),
        data=request.body,
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _seed_background(runtime: Any) -> None:
    """A few other tickets, so the list and the dashboard look like a working day."""
    from gateway.tickets import service

    admin = service.Actor(kind="operator", id=None, role="admin", label="Admin")
    with runtime.db.session() as session:
        make_operator(session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator")
        make_operator(session, "pu@example.id", "agency", "dpupr", "Putu PU")
        file_ticket(
            session,
            runtime,
            text="Sampah menumpuk di TPS Pasar Baru sejak seminggu",
            category="sampah",
            address="whatsapp:+6281300000001",
            dispose_to="dlh",
        )
        started = file_ticket(
            session,
            runtime,
            text="Lampu PJU mati sepanjang Jl. Melati",
            category="penerangan",
            address="tel:+6281300000002",
            dispose_to="dpupr",
        )
        service.transition(session, runtime, started, "start", admin)
        done = file_ticket(
            session,
            runtime,
            text="Antrean puskesmas sangat panjang tiap pagi",
            category="kesehatan",
            address="whatsapp:+6281300000003",
            dispose_to="dinkes",
        )
        service.transition(session, runtime, done, "resolve", admin, note="Loket ditambah.")
        file_ticket(
            session,
            runtime,
            text="Parkir liar menutup trotoar di depan toko",
            category="parkir",
            address=None,
        )


def test_operator_takes_a_whatsapp_complaint_to_resolution_in_the_browser(
    live_server: str, runtime: Any, drain: Any, providers: dict[str, Any], chromium: Any, artifacts: Path
) -> None:
    _seed_background(runtime)
    meta = providers["whatsapp"]

    # A citizen writes on WhatsApp and confirms; the worker turns it into a ticket.
    _post_whatsapp(
        live_server, runtime, "LAPOR#jalan#Jl. Merdeka 10#Jalan berlubang besar di depan SDN 3, bahaya motor"
    )
    drain()
    _post_whatsapp(live_server, runtime, "YA")
    drain()
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.address == f"whatsapp:{CITIZEN}"))
        assert ticket is not None, "the dialogue did not file a ticket"
        tracking = ticket.tracking
    meta.clear()

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()
    try:
        login(page, live_server, "koor@example.id")

        # The list shows the new ticket, marked as having a new citizen message.
        row = page.locator(f"tr[data-tracking='{tracking}']")
        assert row.count() == 1
        assert "unread" in (row.get_attribute("class") or "")
        assert (
            page.locator("[data-tab=unverified] .count").inner_text().strip() == "2"
        )  # ours and the walk-in
        page.screenshot(path=str(artifacts / "inbox-list.png"), full_page=True)

        # Open the thread and reply: the reply shows at once as queued.
        row.locator("a.tracking").click()
        page.wait_for_url(re.compile(rf"/inbox/t/{tracking}"))
        assert "Jalan berlubang besar" in page.inner_text(".timeline")
        reply_text = "Terima kasih, laporan Anda kami teruskan ke Dinas PU hari ini."
        page.fill("#reply-text", reply_text)
        page.click("form[data-reply-form] button[type=submit]")
        page.wait_for_load_state()
        queued = page.locator(".msg.author-operator").last
        assert reply_text in queued.inner_text()
        assert queued.locator(".delivery").get_attribute("data-delivery") == "pending"
        assert queued.locator(".delivery").inner_text().strip() == "antre"

        # Verify and dispose to Dinas PU, then resolve with the follow-up text.
        page.click("details.action:has(form[data-action=dispose]) summary")
        page.select_option("form[data-action=dispose] select[name=agency]", "dpupr")
        page.click("form[data-action=dispose] button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("h1 .status").inner_text().strip() == "Terdisposisi"

        follow_up = "Lubang sudah ditambal oleh tim Dinas PU pada hari ini."
        page.click("details.action:has(form[data-action=resolve]) summary")
        page.fill("form[data-action=resolve] textarea[name=note]", follow_up)
        page.click("form[data-action=resolve] button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("h1 .status").inner_text().strip() == "Selesai"

        # The worker sends both; the page then shows them as sent.
        drain()
        page.reload()
        statuses = page.locator(".msg.author-operator .delivery").all_inner_texts()
        assert statuses and all(s.strip() in ("terkirim", "antre di penyedia", "diterima") for s in statuses)
        page.screenshot(path=str(artifacts / "inbox-thread.png"), full_page=True)

        # The dashboard counts it.
        page.click("nav.mainnav a[href$='/inbox/dashboard']")
        page.wait_for_url(re.compile(r"/inbox/dashboard"))
        assert "laporan" in page.inner_text(".headline")
        page.screenshot(path=str(artifacts / "inbox-dashboard.png"), full_page=True)

        # On a phone the list is still usable.
        phone = context.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(f"{live_server}/inbox/tickets?tab=all")
        assert phone.locator(f"tr[data-tracking='{tracking}']").is_visible()
        phone.screenshot(path=str(artifacts / "inbox-list-phone.png"), full_page=True)
    finally:
        context.close()

    # The WhatsApp stand-in received the reply and the resolution, to the citizen's number.
    bodies = [m for m in meta.sent_messages() if m.get("to", "").lstrip("+") == CITIZEN.lstrip("+")]
    texts = [(m.get("text") or {}).get("body", "") for m in bodies]
    assert any(reply_text in t for t in texts), texts
    assert any(follow_up in t for t in texts), texts
    with runtime.db.session() as session:
        operator_messages = session.scalars(
            select(Message).where(Message.author == "operator", Message.direction == "out")
        ).all()
        assert [m.delivery_status for m in operator_messages] != ["pending"]

    # docs/screenshots changes only when asked, so that a test run leaves the work tree clean.
    if os.environ.get("LAPOR_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in ("inbox-list.png", "inbox-thread.png", "inbox-dashboard.png"):
            shutil.copyfile(artifacts / name, SCREENSHOTS / name)
