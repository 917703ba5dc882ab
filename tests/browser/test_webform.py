"""``/lapor`` in a real browser: a citizen on a phone files a complaint and reads its number.

The live app (CSRF on, as deployed) with a worker thread running the real job runner, so the
receipt page waits for the ticket as it does in production. Every page is checked with axe
(no serious or critical WCAG 2.1 AA violation: the form, its errors, the receipt, in both
languages); a second browser without JavaScript files a complaint too (axe itself needs scripts).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Job, Ticket, utcnow
from tests.browser.conftest import serious_violations
from tests.webform.test_form import PNG

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture
def worker(runtime: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The job runner in a thread (rq's worker wants the main thread for its signals): every due
    job is claimed and run by `gateway.work.runner.run_job`, as a worker process would."""
    from gateway.work.runner import JobRunner, run_job

    # A browser fills the form in milliseconds; the minimum time is tested in tests/webform.
    monkeypatch.setitem(runtime.settings.env, "LAPOR_WEBFORM_MIN_SECONDS", "0")
    stop = threading.Event()
    jobs = JobRunner(runtime)

    def loop() -> None:
        while not stop.is_set():
            with runtime.db.session() as session:
                due = session.scalars(
                    select(Job.id).where(Job.status == "pending", Job.run_at <= utcnow()).order_by(Job.id)
                ).all()
            for job_id in due:
                run_job(jobs, job_id, hand_off=False)
            stop.wait(0.1)

    thread = threading.Thread(target=loop, name="test-worker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        jobs.close()


def _ticket(runtime: Any, tracking: str) -> Ticket:
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        session.expunge(ticket)
        return ticket


def test_a_citizen_on_a_phone_files_a_complaint_with_a_photo(
    live_server: str, runtime: Any, worker: None, chromium: Any, artifacts: Any, tmp_path: Any
) -> None:
    context = chromium.new_context(locale="id-ID", **PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{live_server}/lapor")
        assert serious_violations(page) == []
        page.screenshot(path=str(artifacts / "webform-phone.png"), full_page=True)
        page.click("button.submit")  # nothing filled in: the errors, read first (axe runs with scripts)
        assert page.locator("#errors").is_visible()
        assert page.evaluate("document.activeElement.id") == "errors"
        assert serious_violations(page) == []
        page.fill(
            "#description",
            "Jalan berlubang besar di depan SDN 3 Sukamaju, sudah dua bulan, motor sering jatuh",
        )
        page.fill("#place", "Jl. Merdeka no 10, Kec. Sukamaju")
        photo = tmp_path / "lubang.png"
        photo.write_bytes(PNG)
        page.set_input_files("#photo", str(photo))
        page.check("#privacy-public")
        page.click("button.submit")
        page.wait_for_url(re.compile(r"/lapor/diterima/"))
        tracking = page.locator("#tracking").inner_text().lstrip("#")
        assert re.fullmatch(r"\d{8}", tracking)
        assert serious_violations(page) == []
        page.screenshot(path=str(artifacts / "webform-receipt.png"), full_page=True)
        ticket = _ticket(runtime, tracking)
        assert (ticket.channel, ticket.category, ticket.privacy) == ("web", "jalan", "public")
        page.click("text=Lacak laporan ini")
        page.wait_for_url(re.compile(rf"/lacak/{tracking}"))
        assert "Belum Terverifikasi" in page.locator("#status").inner_text()
    finally:
        context.close()


def test_without_javascript_errors_are_listed_and_the_form_still_files(
    live_server: str, runtime: Any, worker: None, chromium: Any
) -> None:
    context = chromium.new_context(locale="id-ID", java_script_enabled=False, **PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{live_server}/lapor")
        assert page.locator("#locate").is_hidden()  # the location button needs JavaScript
        page.fill("#description", "rusak")
        page.click("button.submit")
        errors = page.locator("#errors")
        assert errors.is_visible()
        assert "paling sedikit" in errors.inner_text() and "Tulis lokasinya" in errors.inner_text()
        assert page.locator("#description").input_value() == "rusak"  # kept
        page.fill("#description", "Sampah menumpuk di pasar Sukamaju sudah seminggu, baunya menyengat")
        page.fill("#place", "Pasar Sukamaju, Jl. Pasar 1")
        page.click("button.submit")
        page.wait_for_url(re.compile(r"/lapor/diterima/"))
        tracking = page.locator("#tracking").inner_text().lstrip("#")
        assert _ticket(runtime, tracking).privacy == "anonymous"  # the form's preselected choice
    finally:
        context.close()


def test_in_english_with_the_browsers_location(
    live_server: str, runtime: Any, worker: None, chromium: Any
) -> None:
    context = chromium.new_context(
        locale="en-US",
        geolocation={"latitude": -6.914744, "longitude": 107.60981},
        permissions=["geolocation"],
        **PHONE,
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{live_server}/lapor?lang=en")
        assert page.locator("html").get_attribute("lang") == "en"
        assert serious_violations(page) == []
        page.fill("#description", "The street light in front of the mosque has been broken for a week")
        page.click("#locate")
        page.wait_for_function("document.getElementById('lat').value !== ''")
        assert "Location attached" in page.locator("#locate-status").inner_text()
        page.click("button.submit")
        page.wait_for_url(re.compile(r"/lapor/diterima/.*lang=en"))
        assert "Your tracking number" in page.content()
        tracking = page.locator("#tracking").inner_text().lstrip("#")
        ticket = _ticket(runtime, tracking)
        assert ticket.language == "en"
        assert ticket.latitude == pytest.approx(-6.914744) and ticket.longitude == pytest.approx(107.60981)
        assert serious_violations(page) == []
    finally:
        context.close()
