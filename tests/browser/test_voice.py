"""/statistik with satisfaction and supporters, and the ticket page's reopen offer and duplicates,
in a real browser (issue 20): visible on a desktop and a phone, no serious axe violations, and the
screenshots docs/openness.md and docs/tickets.md refer to (copied when LAPOR_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from gateway.store.models import Contact
from gateway.tickets import satisfaction, service, supporters
from tests.browser.conftest import login, serious_violations
from tests.inbox.conftest import file_ticket, make_operator

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _seed(runtime: Any) -> tuple[str, str]:
    """Resolved, rated tickets of two agencies; one popular ticket; a low rating with a comment."""
    with runtime.db.session() as session:
        coordinator = make_operator(
            session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator"
        )
        person = service.Actor.for_operator(coordinator)
        rated: list[tuple[str, int, str | None]] = [
            ("dpupr", 5, None),
            ("dpupr", 4, None),
            ("dlh", 3, None),
            ("dlh", 2, "Sampahnya diangkut tapi menumpuk lagi besoknya"),
        ]
        offered = ""
        for n, (agency, score, comment) in enumerate(rated):
            ticket = file_ticket(
                session,
                runtime,
                text=f"Keluhan nomor {n}: jalan rusak dan sampah menumpuk di pasar",
                category="jalan" if agency == "dpupr" else "sampah",
                address=f"whatsapp:+628123450{n:04d}",
                privacy="public",
                dispose_to=agency,
                disposed_by=person,
            )
            service.transition(session, runtime, ticket, "resolve", person, note="Sudah ditangani")
            assert ticket.contact_id is not None
            assert satisfaction.record_rating(
                session, runtime, ticket.contact_id, ticket.tracking, score, None
            )
            if comment:
                assert satisfaction.record_comment(session, ticket.contact_id, ticket.tracking, comment, None)
                offered = ticket.tracking
        popular = file_ticket(
            session,
            runtime,
            text="Lampu jalan mati sepanjang Jl. Merdeka, gelap gulita",
            category="penerangan",
            privacy="public",
            dispose_to="dishub",
            disposed_by=person,
        )
        for n in range(4):
            contact = Contact(display_name=None)
            session.add(contact)
            session.flush()
            supporters.join(
                session, runtime, contact, popular.tracking, "sms", f"tel:+62857000{n:05d}", "id", f"seed{n}"
            )
        return offered, popular.tracking


def test_satisfaction_and_supporters_in_the_browser(
    live_server: str, runtime: Any, chromium: Any, artifacts: Path
) -> None:
    offered, popular = _seed(runtime)
    shots = {}
    for viewport, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        context = chromium.new_context(viewport=viewport, locale="id-ID")
        page = context.new_page()
        try:
            page.goto(f"{live_server}/statistik")
            section = page.locator("#kepuasan")
            assert section.is_visible()
            assert page.locator("#satisfaction-average").inner_text() == "3,5"
            assert page.locator("#satisfaction-count").inner_text() == "4"
            assert page.locator("#supporters").inner_text() == "4"
            assert "Sampahnya diangkut" not in page.content()  # comments are never public
            assert page.get_by_text("5 pelapor").first.is_visible()
            assert serious_violations(page) == []
            section.screenshot(path=str(artifacts / f"statistik-kepuasan{suffix}.png"))
            shots[f"statistik-kepuasan{suffix}.png"] = artifacts / f"statistik-kepuasan{suffix}.png"

            login(page, live_server, "koor@example.id")
            page.goto(f"{live_server}/inbox/t/{offered}")
            offer = page.locator("form.reopen-offer")
            assert offer.is_visible() and "menumpuk lagi" in page.content()
            assert serious_violations(page) == []
            page.screenshot(path=str(artifacts / f"inbox-reopen-offer{suffix}.png"), full_page=False)
            shots[f"inbox-reopen-offer{suffix}.png"] = artifacts / f"inbox-reopen-offer{suffix}.png"
            if suffix:  # after both screenshots: the coordinator takes the offer
                offer.locator("button").click()
                page.wait_for_load_state()
                assert page.locator("form.reopen-offer").count() == 0
                page.goto(f"{live_server}/inbox/tickets?tab=all")
                assert page.locator("[data-tracking]").first.get_attribute("data-tracking") == popular
        finally:
            context.close()
    if os.environ.get("LAPOR_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in ("statistik-kepuasan.png", "inbox-reopen-offer.png"):
            shutil.copyfile(shots[name], SCREENSHOTS / name)
