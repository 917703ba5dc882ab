"""Issue 18's points in a real browser, one short test each, asserting what the operator sees.

The data is set up through the ticket service (the inbox tests' ``world``: a coordinator,
Dinas PU's operator "Putu PU", an anonymous ticket and a public one at Dinas PU); the pages
are driven through Playwright with CSRF on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import CannedResponse, Ticket, utcnow
from tests.browser.conftest import login, seed_draft
from tests.inbox.conftest import World, file_ticket
from tests.inbox.conftest import world as world  # the inbox tests' fixture, reused

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A desktop page in a context of its own, closed after the test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    try:
        yield context.new_page()
    finally:
        context.close()


def _reply(page: Any, text: str) -> None:
    page.fill("#reply-text", text)
    page.click("form[data-reply-form] button[type=submit]")
    page.wait_for_load_state()


def test_an_unknown_canned_code_is_refused_with_the_codes_and_kept(
    live_server: str, runtime: Any, world: World, browser_page: Any
) -> None:
    with runtime.db.session() as session:
        session.add(CannedResponse(code="survei", title="Survei", text="Petugas meninjau.", language="id"))
        session.add(CannedResponse(code="selesai", title="Selesai", text="Sudah selesai.", language="id"))
    page = browser_page
    login(page, live_server, "pu@example.id")
    page.goto(f"{live_server}/inbox/t/{world.dpupr_ticket}")
    _reply(page, "/tidakada")
    refusal = page.locator("#actions .flash-error")
    assert refusal.is_visible()
    assert "/tidakada" in refusal.inner_text() and "/selesai, /survei" in refusal.inner_text()
    assert page.locator("#reply-text").input_value() == "/tidakada"
    assert page.locator(".msg.author-operator").count() == 0


def test_a_ticket_returned_by_an_agency_is_in_the_returned_tab_with_the_reason(
    live_server: str, world: World, chromium: Any, browser_page: Any
) -> None:
    reason = "Ini kewenangan Dinas Perhubungan, bukan PU."
    agency = browser_page
    login(agency, live_server, "pu@example.id")
    agency.goto(f"{live_server}/inbox/t/{world.dpupr_ticket}")
    agency.click("details.action:has(form[data-action=not_our_authority]) summary")
    agency.fill("form[data-action=not_our_authority] textarea[name=note]", reason)
    agency.click("form[data-action=not_our_authority] button[type=submit]")
    agency.wait_for_url(re.compile(r"/inbox/tickets"))
    assert agency.locator("[data-tab=returned]").count() == 0  # agencies do not get the tab

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    try:
        page = context.new_page()
        login(page, live_server, "koor@example.id")
        page.click("[data-tab=returned]")
        page.wait_for_url(re.compile(r"tab=returned"))
        assert "Dikembalikan OPD" in page.inner_text("[data-tab=returned]")
        rows = page.locator("tr[data-tracking]")
        assert rows.count() == 1 and rows.first.get_attribute("data-tracking") == world.dpupr_ticket
        assert "Dikembalikan DPUPR" in rows.first.locator(".badge-returned").inner_text()
        assert reason in rows.first.locator(".returned-reason").inner_text()
    finally:
        context.close()


def test_the_back_link_keeps_filter_and_page_and_next_opens_the_next_ticket(
    live_server: str, runtime: Any, world: World, browser_page: Any
) -> None:
    with runtime.db.session() as session:
        for i in range(27):  # more than a page (25) of tickets matching the filter
            file_ticket(session, runtime, text=f"Got mampet di gang {i}", category="drainase", address=None)
    page = browser_page
    login(page, live_server, "koor@example.id")
    page.goto(f"{live_server}/inbox/tickets?tab=all&q=mampet&page=2")
    order = page.locator("tr[data-tracking]").evaluate_all("rows => rows.map(r => r.dataset.tracking)")
    assert len(order) == 2
    page.locator(f"tr[data-tracking='{order[0]}'] a.tracking").click()
    page.wait_for_url(re.compile(rf"/inbox/t/{order[0]}"))

    page.click("a.next")
    page.wait_for_url(re.compile(rf"/inbox/t/{order[1]}\?"))
    assert f"#{order[1]}" in page.inner_text("h1")
    assert page.locator("a.next").count() == 0  # the last ticket of the list

    page.click("a.back")
    page.wait_for_url(re.compile(r"/inbox/tickets\?"))
    assert "q=mampet" in page.url and "page=2" in page.url and "tab=all" in page.url
    assert page.locator("form.filters input[name=q]").input_value() == "mampet"
    shown = page.locator("tr[data-tracking]").evaluate_all("rows => rows.map(r => r.dataset.tracking)")
    assert shown == order


def test_an_agency_walk_in_is_shown_to_its_operator_once_filed(
    live_server: str, world: World, browser_page: Any
) -> None:
    page = browser_page
    login(page, live_server, "pu@example.id")
    page.goto(f"{live_server}/inbox/new")
    page.fill("#name", "Budi Santoso")
    page.fill("#phone", "0812-1111-2222")
    page.select_option("#updates", "sms")
    page.check("#consent")
    page.fill("#description", "Saluran air di RT 03 tersumbat, banjir setiap hujan")
    page.fill("#location", "Kelurahan Sukamaju")
    page.select_option("#category", "lainnya")
    page.select_option("#privacy", "public")
    with page.expect_navigation() as navigation:
        page.click("form.form-grid button[type=submit]")
    assert navigation.value is not None and navigation.value.status == 200
    assert re.search(r"/inbox/t/\d+", page.url)
    tracking = re.search(r"/inbox/t/(\d+)", page.url).group(1)  # type: ignore[union-attr]
    assert f"Laporan #{tracking} dicatat." in page.inner_text("main")
    assert "Saluran air di RT 03 tersumbat" in page.inner_text("main")


def test_a_reply_names_its_operator_and_the_label_once(
    live_server: str, world: World, chromium: Any, browser_page: Any
) -> None:
    agency = browser_page
    login(agency, live_server, "pu@example.id")
    agency.goto(f"{live_server}/inbox/t/{world.dpupr_ticket}")
    _reply(agency, "Besok kami survei.")

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    try:
        coordinator = context.new_page()
        login(coordinator, live_server, "koor@example.id")
        coordinator.goto(f"{live_server}/inbox/t/{world.dpupr_ticket}")
        for page in (agency, coordinator):
            item = page.locator(".msg.author-operator").last
            assert "Putu PU (DPUPR)" in item.locator(".msg-sender").inner_text()
            assert item.inner_text().count("Balasan petugas") == 1
            assert item.locator(".msg-text").inner_text().strip() == "Besok kami survei."
    finally:
        context.close()


def test_an_invalid_dashboard_date_is_said(live_server: str, world: World, browser_page: Any) -> None:
    page = browser_page
    login(page, live_server, "koor@example.id")
    response = page.goto(f"{live_server}/inbox/dashboard?since=nonsense")
    assert response is not None and response.status == 400
    error = page.locator(".flash-error.form-error")
    assert error.is_visible() and "nonsense" in error.inner_text()


def test_the_coordinator_files_an_unfinished_draft(
    live_server: str, runtime: Any, world: World, browser_page: Any
) -> None:
    seed_draft(runtime, "Jalan amblas di depan masjid")
    page = browser_page
    login(page, live_server, "koor@example.id")
    page.click("a[href='/inbox/drafts']")
    page.wait_for_url(re.compile(r"/inbox/drafts"))
    row = page.locator("tr[data-draft]")
    assert row.count() == 1 and "Jalan amblas di depan masjid" in row.inner_text()
    row.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/inbox/t/\d+"))
    assert "Jalan amblas di depan masjid" in page.inner_text("main")
    page.goto(f"{live_server}/inbox/drafts")
    assert page.locator("tr[data-draft]").count() == 0


def test_the_citizen_view_for_the_coordinator_and_not_for_an_anonymous_reporter(
    live_server: str, world: World, chromium: Any, browser_page: Any
) -> None:
    page = browser_page
    login(page, live_server, "koor@example.id")
    page.goto(f"{live_server}/inbox/t/{world.public_ticket}")
    page.click(f"a[href='/inbox/t/{world.public_ticket}/citizen']")
    page.wait_for_url(re.compile(rf"/inbox/t/{world.public_ticket}/citizen"))
    assert f"#{world.public_ticket}" in page.inner_text("main")

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    try:
        agency = context.new_page()
        login(agency, live_server, "pu@example.id")
        agency.goto(f"{live_server}/inbox/t/{world.dpupr_ticket}")
        assert agency.locator("a[href$='/citizen']").count() == 0
        response = agency.goto(f"{live_server}/inbox/t/{world.dpupr_ticket}/citizen")
        assert response is not None and response.status == 404
    finally:
        context.close()


def test_the_public_page_shows_the_moderated_summary(
    live_server: str, runtime: Any, world: World, chromium: Any, browser_page: Any
) -> None:
    original = "Trotoar rusak, pasti dikorupsi Pak Budi kepala seksi"
    summary = "Trotoar rusak dekat halte bus"
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == world.public_ticket))
        assert ticket is not None
        ticket.verified_at, ticket.description = utcnow(), original
    page = browser_page
    login(page, live_server, "koor@example.id")
    page.goto(f"{live_server}/inbox/t/{world.public_ticket}")
    page.click("#public-summary details summary")
    assert page.locator("#public-summary-text").input_value() == original
    page.fill("#public-summary-text", summary)
    page.click("#public-summary button[type=submit]")
    page.wait_for_load_state()
    assert summary in page.inner_text("#public-summary")

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    try:
        public = context.new_page()
        public.goto(f"{live_server}/?q=halte")
        body = public.inner_text("body")
        assert summary in body and "dikorupsi" not in body
    finally:
        context.close()
