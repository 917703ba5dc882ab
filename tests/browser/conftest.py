"""A live gateway (real werkzeug server, CSRF on) and Debian's headless Chromium driven by Playwright.

The browser is never downloaded: the tests use /usr/bin/chromium and skip without it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def serious_violations(page: Any) -> list[str]:
    """axe's serious and critical WCAG 2.1 AA violations on ``page``, as "rule (n nodes): target".

    The one axe check of the browser tests: axe-core ships inside axe-playwright-python
    (nothing downloaded); minor and moderate findings are left to review, these fail.
    """
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in ("serious", "critical"):
            targets = [node.get("target") for node in violation.get("nodes", [])][:3]
            found.append(f"{violation['id']} ({len(violation.get('nodes', []))} nodes): {targets}")
    return found


def login(page: Any, live_server: str, email: str) -> None:
    """Log ``email`` in through the login form (CSRF on), landing on the ticket list."""
    from tests.inbox.conftest import PASSWORD

    page.goto(f"{live_server}/inbox/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(re.compile(r"/inbox/tickets"))


def seed_draft(runtime: Any, description: str = "Jalan amblas di depan masjid") -> None:
    """A complaint a citizen began by SMS and left, so the drafts page has a row."""
    from gateway.store.models import Contact, ContactAddress, IncompleteDraft

    with runtime.db.session() as session:
        contact = Contact(display_name=None, language="id")
        session.add(contact)
        session.flush()
        session.add(ContactAddress(contact_id=contact.id, address="tel:+6285700003333", channel="sms"))
        data = {"description": description, "location_text": "Jl. Kenanga 3", "category": "jalan"}
        session.add(IncompleteDraft(contact_id=contact.id, channel="sms", data=data))


@pytest.fixture
def live_server(runtime: Any) -> Iterator[str]:
    """The whole app on a free port, in a thread, with CSRF protection as in production."""
    from gateway.app import create_app

    app = create_app(runtime=runtime)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
