"""A working day in a real browser: the reply counter, refusals beside the form, phones, accessibility.

axe-core (shipped inside axe-playwright-python, nothing downloaded) checks each page
against WCAG 2.1 AA; serious and critical violations fail the test.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from gateway.store.models import Message
from tests.browser.conftest import login, seed_draft, serious_violations
from tests.browser.test_inbox_flow import SCREENSHOTS, _seed_background
from tests.inbox.conftest import file_ticket, make_operator

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def overflows(page: Any) -> int:
    """How many CSS pixels the page is wider than the viewport (0: nothing to scroll sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def _sms_ticket(runtime: Any) -> str:
    with runtime.db.session() as session:
        make_operator(session, "admin@example.id", "admin", None, "Ani Admin")
        ticket = file_ticket(
            session,
            runtime,
            text="Jalan berlubang di depan SDN 3, sudah dua motor jatuh minggu ini",
            category="jalan",
            address="tel:+6285712345678",
            dispose_to="dpupr",
        )
        ticket.channel = "sms"
        return ticket.tracking


def test_the_reply_counter_and_a_refused_reply_in_the_browser(
    live_server: str, runtime: Any, chromium: Any, artifacts: Path
) -> None:
    _seed_background(runtime)
    tracking = _sms_ticket(runtime)
    context = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    page = context.new_page()
    try:
        login(page, live_server, "koor@example.id")
        page.goto(f"{live_server}/inbox/t/{tracking}")
        counter = page.locator("#reply-counter")

        page.fill("#reply-text", "Baik, kami cek besok.")
        expect(counter).to_have_attribute("data-characters", re.compile(r"\d+"))
        assert "1 SMS" in counter.inner_text() and "GSM-7" in counter.inner_text()

        page.fill("#reply-text", "Terima kasih 🙏")  # one emoji: the whole text goes as UCS-2
        expect(counter).to_contain_text("UCS-2")

        long_text = ("Perbaikan jalan dijadwalkan minggu depan setelah material tiba. " * 16).strip()
        page.fill("#reply-text", long_text)
        expect(counter).to_have_class(re.compile("counter-over"))
        segments = int(counter.get_attribute("data-segments") or 0)
        assert segments > 6 and f"{segments} SMS" in counter.inner_text()
        page.screenshot(path=str(artifacts / "inbox-reply-counter.png"), full_page=False)

        # Sent anyway: refused beside the form, the text still in the box, nothing queued.
        page.click("form[data-reply-form] button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("#reply-text").input_value() == long_text
        flash = page.locator("#actions .flash-error")
        assert "paling banyak 6 SMS" in flash.inner_text()
        assert flash.is_visible() and _in_viewport(page, "#actions .flash-error")
        with runtime.db.session() as session:
            assert session.scalars(select(Message).where(Message.author == "operator")).all() == []

        # A reply that fits is sent; its outcome is in view where the operator looks.
        page.fill("#reply-text", "Baik, kami cek besok pagi.")
        page.click("form[data-reply-form] button[type=submit]")
        page.wait_for_load_state()
        assert _in_viewport(page, "#actions .flash-ok")
        assert "Kiki Koordinator" in page.locator(".msg.author-operator").last.inner_text()
    finally:
        context.close()
    if os.environ.get("LAPOR_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts / "inbox-reply-counter.png", SCREENSHOTS / "inbox-reply-counter.png")


def _in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_pages_fit_a_phone(live_server: str, runtime: Any, chromium: Any, artifacts: Path) -> None:
    _seed_background(runtime)
    tracking = _sms_ticket(runtime)
    pages = {
        "inbox-list": "/inbox/tickets?tab=all",
        "inbox-thread": f"/inbox/t/{tracking}",
        "inbox-dashboard": "/inbox/dashboard",
        "inbox-agencies": "/inbox/admin/agencies",
        "public-home": "/",
        "statistik": "/statistik",
    }
    wide: dict[str, int] = {}
    for viewport, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        context = chromium.new_context(viewport=viewport, locale="id-ID")
        page = context.new_page()
        try:
            login(page, live_server, "admin@example.id")
            for name, path in pages.items():
                page.goto(live_server + path)
                page.wait_for_load_state()
                page.screenshot(path=str(artifacts / f"{name}{suffix}.png"), full_page=True)
                if suffix and overflows(page) > 0:
                    wide[name] = overflows(page)
            # On a phone the reply box is one tap away from the top of a ticket.
            if suffix:
                page.goto(f"{live_server}/inbox/t/{tracking}")
                page.click("a.jump-reply")
                assert _in_viewport(page, "#reply-text")
        finally:
            context.close()
    assert wide == {}, f"wider than 390 px: {wide}"

    # docs/screenshots changes only when asked (docs/inbox.md shows it).
    if os.environ.get("LAPOR_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts / "inbox-thread-phone.png", SCREENSHOTS / "inbox-thread-phone.png")


def test_every_inbox_and_public_page_passes_axe(live_server: str, runtime: Any, chromium: Any) -> None:
    """WCAG 2.1 AA: no serious or critical axe finding on any page an operator or the public opens."""
    from gateway.web.inbox.filters import TABS

    _seed_background(runtime)
    tracking = _sms_ticket(runtime)
    seed_draft(runtime)
    with runtime.db.session() as session:
        admin_id = make_operator(session, "admin2@example.id", "admin", None, "Adi Admin").id
    inbox = {f"list-{tab}": f"/inbox/tickets?tab={tab}" for tab in TABS}
    by_role = {
        "admin@example.id": {
            **inbox,
            "list-search": "/inbox/tickets?tab=all&q=0857",
            "ticket": f"/inbox/t/{tracking}",
            "citizen": f"/inbox/t/{tracking}/citizen",
            "dashboard": "/inbox/dashboard",
            "audit": "/inbox/admin/audit",
            "operators": "/inbox/admin/operators",
            "operator-password": f"/inbox/admin/operators/{admin_id}/password",
            "agencies": "/inbox/admin/agencies",
            "canned": "/inbox/admin/canned",
            "walk-in": "/inbox/new",
            "drafts": "/inbox/drafts",
            "today": "/inbox/today",
            "bulk-preview": f"/inbox/bulk?action=dispose&agency=dpupr&t={tracking}",
            "account-password": "/inbox/account/password",
            "public-home": "/",
            "statistik": "/statistik",
            "lacak": "/lacak",
            "lacak-ticket": f"/lacak/{tracking}",
        },
        "koor@example.id": {"ticket": f"/inbox/t/{tracking}", "list-returned": "/inbox/tickets?tab=returned"},
        "pu@example.id": {
            "ticket": f"/inbox/t/{tracking}",
            "list-open": "/inbox/tickets",
            "today": "/inbox/today",
            "walk-in": "/inbox/new",
        },
    }
    problems: dict[str, list[str]] = {}
    for email, pages in by_role.items():
        context = chromium.new_context(viewport=DESKTOP, locale="id-ID")
        page = context.new_page()
        try:
            if email.startswith("admin@"):  # the login page, before anyone is logged in
                page.goto(f"{live_server}/inbox/login")
                problems["login"] = serious_violations(page)
            login(page, live_server, email)
            for name, path in pages.items():
                response = page.goto(live_server + path)
                assert response is not None and response.status < 400, (
                    email,
                    path,
                    response and response.status,
                )
                page.wait_for_load_state()
                problems[f"{email.split('@')[0]}:{name}"] = serious_violations(page)
        finally:
            context.close()
    assert {name: found for name, found in problems.items() if found} == {}
