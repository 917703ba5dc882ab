"""The whole operator journey in one browser test, from a citizen's WhatsApp message to their being told.

A citizen files by a signed WhatsApp webhook (the real rq worker files the ticket); the
coordinator finds it by the caller's number typed as people type it and disposes it; the
agency operator, in a browser of their own, answers with a photo and resolves; the
WhatsApp stand-in must then hold the photo, its link and the resolution notice. Each step
is photographed at desktop width and at 390 px.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.devtools.loopback.twilio import PNG_PIXEL
from gateway.store.models import Ticket
from tests.browser.conftest import login
from tests.browser.test_inbox_flow import CITIZEN, SCREENSHOTS, _post_whatsapp, _seed_background

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
STEPS = ("journey-1-search", "journey-2-disposed", "journey-3-agency", "journey-4-resolved")
TYPED_NUMBER = "0812-3456-7890"  # the caller's +6281234567890, as an operator types it off a note


def _snap(page: Any, artifacts: Path, name: str) -> None:
    """The step at desktop width, then at 390 px (the same page, re-laid out), then back."""
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_a_complaint_from_whatsapp_to_a_photo_answer_and_the_citizen_told(
    live_server: str, runtime: Any, drain: Any, providers: dict[str, Any], chromium: Any, artifacts: Path
) -> None:
    _seed_background(runtime)
    meta = providers["whatsapp"]

    # The citizen reports on WhatsApp and confirms; the worker files the ticket.
    _post_whatsapp(
        live_server, runtime, "LAPOR#jalan#Jl. Merdeka 10#Jalan berlubang di depan SDN 3, bahaya motor"
    )
    drain()
    _post_whatsapp(live_server, runtime, "YA")
    drain()
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.address == f"whatsapp:{CITIZEN}"))
        assert ticket is not None, "the dialogue did not file a ticket"
        tracking = ticket.tracking
    meta.clear()

    coordinator = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    agency = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    try:
        # The coordinator finds it by the number the citizen gave on the phone.
        page = coordinator.new_page()
        login(page, live_server, "koor@example.id")
        page.fill("form.filters input[name=q]", TYPED_NUMBER)
        page.press("form.filters input[name=q]", "Enter")
        page.wait_for_url(re.compile(r"q=0812"))
        rows = page.locator("tr[data-tracking]")
        assert rows.count() == 1 and rows.first.get_attribute("data-tracking") == tracking
        _snap(page, artifacts, STEPS[0])

        # ... opens it, verifies and disposes it to Dinas PU.
        rows.first.locator("a.tracking").click()
        page.wait_for_url(re.compile(rf"/inbox/t/{tracking}"))
        page.click("details.action:has(form[data-action=dispose]) summary")
        page.select_option("form[data-action=dispose] select[name=agency]", "dpupr")
        page.click("form[data-action=dispose] button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("h1 .status").inner_text().strip() == "Terdisposisi"
        _snap(page, artifacts, STEPS[1])

        # The agency operator, in a browser of their own, sees it in their list and opens it.
        desk = agency.new_page()
        login(desk, live_server, "pu@example.id")
        row = desk.locator(f"tr[data-tracking='{tracking}']")
        assert row.count() == 1
        row.locator("a.tracking").click()
        desk.wait_for_url(re.compile(rf"/inbox/t/{tracking}"))
        assert "Jalan berlubang" in desk.inner_text(".timeline")
        _snap(desk, artifacts, STEPS[2])

        # ... answers with a photo of the repair, resolving the ticket with it.
        follow_up = "Lubang sudah ditambal tim Dinas PU hari ini, terlampir fotonya."
        evidence = desk.locator("#evidence form")
        evidence.locator("input[type=file]").set_input_files(
            {"name": "tambal.png", "mimeType": "image/png", "buffer": PNG_PIXEL}
        )
        evidence.locator("textarea[name=text]").fill(follow_up)
        evidence.locator("input[name=resolve]").check()
        evidence.locator("button[type=submit]").click()
        desk.wait_for_load_state()
        assert desk.locator("h1 .status").inner_text().strip() == "Selesai"
        assert "Bukti dikirim ke pelapor (1 berkas)" in desk.inner_text("#actions")
        drain()
        desk.reload()
        assert (
            desk.locator(".msg.author-operator img, .msg.author-operator a[href*='/inbox/media/']").count()
            >= 1
        )
        _snap(desk, artifacts, STEPS[3])
    finally:
        coordinator.close()
        agency.close()

    # The citizen is told: the photo (as a WhatsApp image the provider fetches), its short
    # signed link in the text, and the resolution with the follow-up.
    sent = [m for m in meta.sent_messages() if m.get("to", "").lstrip("+") == CITIZEN.lstrip("+")]
    images = [m for m in sent if m.get("type") == "image"]
    assert len(images) == 1, sent
    assert "sig=" in images[0]["image"]["link"]
    texts = [(m.get("text") or {}).get("body", "") + (m.get("image") or {}).get("caption", "") for m in sent]
    assert any(f"#{tracking}" in t and "/b/" in t for t in texts), texts
    assert any(follow_up in t for t in texts), texts

    # docs/screenshots changes only when asked, so that a test run leaves the work tree clean.
    if os.environ.get("LAPOR_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for step in STEPS:
            for suffix in ("", "-phone"):
                shutil.copyfile(artifacts / f"{step}{suffix}.png", SCREENSHOTS / f"{step}{suffix}.png")
