"""The keyboard and the queue in a real browser: shortcuts, the skip link and a bulk action with CSRF on."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Message, Ticket
from tests.browser.conftest import login
from tests.inbox.conftest import file_ticket, make_operator

pytestmark = pytest.mark.browser


def _seed(runtime: Any) -> list[str]:
    with runtime.db.session() as session:
        make_operator(session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator")
        return [
            file_ticket(
                session,
                runtime,
                text=f"Jalan berlubang di gang {i}",
                category="jalan",
                address=f"whatsapp:+628130000010{i}",
            ).tracking
            for i in range(3)
        ]


def test_shortcuts_move_search_help_dispose_and_send(live_server: str, runtime: Any, chromium: Any) -> None:
    tickets = _seed(runtime)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        login(page, live_server, "koor@example.id")
        # The skip link is the first thing the keyboard reaches.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.locator("body").click(position={"x": 5, "y": 400})
        # j moves down the list, k back up; the place is marked and focused.
        page.keyboard.press("j")
        page.keyboard.press("j")
        second = page.locator("tr.kb-current").get_attribute("data-tracking")
        order = page.locator("tr[data-tracking]").evaluate_all("rows => rows.map(r => r.dataset.tracking)")
        assert second == order[1]
        page.keyboard.press("k")
        assert page.locator("tr.kb-current").get_attribute("data-tracking") == order[0]
        # ? opens the help; Escape closes it.
        page.keyboard.press("?")
        assert page.locator("#kb-help").evaluate("d => d.open")
        page.keyboard.press("Escape")
        assert not page.locator("#kb-help").evaluate("d => d.open")
        # / focuses the search box, and typing there does not move the list.
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.type") == "search"
        page.keyboard.type("jk")
        assert page.locator("input[type=search]").input_value() == "jk"
        page.locator("input[type=search]").fill("")
        # e on a row opens that ticket with its dispose form open.
        page.locator("body").click(position={"x": 5, "y": 400})
        page.keyboard.press("j")
        chosen = page.locator("tr.kb-current").get_attribute("data-tracking")
        page.keyboard.press("e")
        page.wait_for_url(re.compile(rf"/inbox/t/{chosen}"))
        assert page.locator("details.action:has(form[data-action=dispose])").evaluate("d => d.open")
        # Ctrl+Enter sends the reply being typed.
        page.fill("#reply-text", "Terima kasih, kami periksa hari ini.")
        page.focus("#reply-text")
        page.keyboard.press("Control+Enter")
        page.wait_for_load_state()
        page.wait_for_selector(".msg.author-operator")
        with runtime.db.session() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.tracking == chosen))
            assert ticket is not None
            sent = session.scalars(
                select(Message).where(Message.ticket_id == ticket.id, Message.author == "operator")
            )
            assert any("kami periksa" in m.text for m in sent)
        assert set(order) >= set(tickets)
    finally:
        context.close()


def test_bulk_dispose_with_preview_in_the_browser(live_server: str, runtime: Any, chromium: Any) -> None:
    tickets = _seed(runtime)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        login(page, live_server, "koor@example.id")
        for tracking in tickets[:2]:
            page.check(f"tr[data-tracking='{tracking}'] input[name=t]")
        page.select_option("#bulk-form select[name=action]", "dispose")
        page.select_option("#bulk-form select[name=agency]", "dpupr")
        page.click("#bulk-form button[type=submit]")
        page.wait_for_url(re.compile(r"/inbox/bulk"))
        assert page.locator(".bulk-preview tbody tr").count() == 2
        page.click("button[name=confirm]")
        page.wait_for_load_state()
        assert page.locator("tr[data-done]").count() == 2
        assert page.locator("[data-next]").count() == 1
        with runtime.db.session() as session:
            statuses = {t.tracking: t.status for t in session.scalars(select(Ticket))}
        assert [statuses[t] for t in tickets] == ["dispatched", "dispatched", "unverified"]
    finally:
        context.close()
