"""The live parts in a real browser: two operators on one ticket are warned of each other, and the
unread count in the title follows a new citizen message without a reload."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Ticket
from tests.browser.conftest import login
from tests.inbox.conftest import file_ticket, make_operator

pytestmark = pytest.mark.browser


def _login(context: Any, live_server: str, email: str) -> Any:
    page = context.new_page()
    login(page, live_server, email)
    return page


def test_two_operators_on_one_ticket_are_warned(live_server: str, runtime: Any, chromium: Any) -> None:
    with runtime.db.session() as session:
        make_operator(session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator")
        make_operator(session, "koor2@example.id", "coordinator", "diskominfo", "Kurnia Koordinator")
        tracking = file_ticket(session, runtime, text="Jembatan retak", category="jalan").tracking
    first, second = chromium.new_context(), chromium.new_context()
    try:
        kiki = _login(first, live_server, "koor@example.id")
        kurnia = _login(second, live_server, "koor2@example.id")
        kiki.goto(f"{live_server}/inbox/t/{tracking}")
        kurnia.goto(f"{live_server}/inbox/t/{tracking}")
        kurnia.fill("#reply-text", "Sedang kami")
        kurnia.type("#reply-text", " periksa")
        kiki.wait_for_selector("#presence [data-other]", timeout=15000)
        assert "Kurnia Koordinator" in kiki.inner_text("#presence")
        kurnia.click("form[data-reply-form] button[type=submit]")
        kurnia.wait_for_load_state()
        kiki.wait_for_selector("#presence [data-answered]", timeout=15000)
        assert "Kurnia Koordinator" in kiki.inner_text("#presence [data-answered]")
    finally:
        first.close()
        second.close()


def test_the_title_counts_unread_tickets_live(live_server: str, runtime: Any, chromium: Any) -> None:
    with runtime.db.session() as session:
        make_operator(session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator")
        ticket = file_ticket(session, runtime, text="Jembatan retak", category="jalan")
        ticket.has_unread = False
        tracking = ticket.tracking
    context = chromium.new_context()
    try:
        page = _login(context, live_server, "koor@example.id")
        assert not page.title().startswith("(")
        with runtime.db.session() as session:
            row = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
            assert row is not None
            row.has_unread = True
        # The page checks every 30 s and whenever its window gets the focus back.
        page.evaluate("window.dispatchEvent(new Event('focus'))")
        deadline = time.monotonic() + 10
        while not page.title().startswith("(1) ") and time.monotonic() < deadline:
            page.wait_for_timeout(100)  # (wait_for_function evaluates a string: the inbox's CSP forbids it)
        assert page.title().startswith("(1) ")
        assert page.inner_text("[data-unread]").strip() == "1"
        page.reload()
        assert page.title().startswith("(1) ")
        assert page.inner_text("[data-unread]").strip() == "1"
    finally:
        context.close()
