"""Forwarding to an agency's Open311 endpoint and signed webhook: retries, failure, exactly one delivery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from gateway.attachments.links import verify
from gateway.devtools.loopback.open311 import Open311StandIn
from gateway.devtools.loopback.server import Reply
from gateway.devtools.loopback.webhook_receiver import WebhookReceiver
from gateway.store.models import Contact, Job, Ticket, TicketForward, utcnow
from gateway.tickets import forwarding
from gateway.tickets.service import Actor, create_ticket, transition
from gateway.work.runner import JobRunner, run_job
from tests.tickets.conftest import config_dir

API_KEY = "kunci-open311-dpupr"
PHOTO = "0123456789abcdef0123456789abcdef.jpg"
SECRET = "rahasia-webhook-dlh"


@pytest.fixture
def open311() -> Iterator[Open311StandIn]:
    with Open311StandIn(api_key=API_KEY) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret=SECRET) as server:
        yield server  # type: ignore[misc]


def agencies_doc(open311_url: str, webhook_url: str) -> dict[str, Any]:
    return {
        "city": "Kota Contoh",
        "agencies": [
            {"code": "diskominfo", "name": "Diskominfo", "coordinator": True, "categories": ["lainnya"]},
            {
                "code": "dpupr",
                "name": "Dinas PUPR",
                "categories": ["jalan"],
                "forward": {
                    "open311": {
                        "endpoint": open311_url,
                        "api_key_env": "DPUPR_311_KEY",
                        "service_code": "001",
                        "service_codes": {"jalan": "002"},
                    }
                },
            },
            {
                "code": "dlh",
                "name": "Dinas Lingkungan Hidup",
                "categories": ["sampah"],
                "forward": {"webhook": {"url": webhook_url, "secret_env": "DLH_WEBHOOK_SECRET"}},
            },
        ],
    }


@pytest.fixture
def runtime(runtime_with: Any, tmp_path: Path, open311: Open311StandIn, receiver: WebhookReceiver) -> Any:
    folder = config_dir(tmp_path, agencies=agencies_doc(open311.endpoint, receiver.url))
    return runtime_with(
        LAPOR_CONFIG_DIR=str(folder),
        DPUPR_311_KEY=API_KEY,
        DLH_WEBHOOK_SECRET=SECRET,
        PUBLIC_BASE_URL="https://lapor.contoh.go.id",
    )


COORDINATOR = Actor(kind="operator", id=1, role="coordinator", label="Koordinator")


def dispatched_ticket(runtime: Any, agency: str, **fields: Any) -> int:
    with runtime.db.session() as session:
        contact = Contact(display_name="Budi Santoso")
        session.add(contact)
        session.flush()
        values: dict[str, Any] = {
            "contact": contact,
            "description": "Jalan berlubang di depan SD 3",
            "category": "jalan",
            "location_text": "Jl. Merdeka No. 5",
            "latitude": -6.914744,
            "longitude": 107.60981,
            "channel": "sms",
            "address": "tel:+6281234567890",
            "language": "id",
            "source": "message",
            "attachments": [{"kind": "image", "stored_path": PHOTO}],
        }
        values.update(fields)
        ticket = create_ticket(session, runtime, **values)
        transition(session, runtime, ticket, "dispose", COORDINATOR, agency=agency)
        return ticket.id


def assert_signed_media_link(runtime: Any, url: str) -> None:
    """Media reaches a forward target only as a signed, expiring link to the stored file."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"https://lapor.contoh.go.id/media/{PHOTO}"
    query = parse_qs(parts.query)
    assert verify(runtime.settings, PHOTO, query["exp"][0], query["sig"][0])
    assert not verify(runtime.settings, "f" * 32 + ".jpg", query["exp"][0], query["sig"][0])


def forward_jobs(runtime: Any) -> list[int]:
    with runtime.db.session() as session:
        return list(session.scalars(select(Job.id).where(Job.kind == "forward_ticket").order_by(Job.id)))


def forwards(runtime: Any, ticket_id: int) -> dict[str, TicketForward]:
    with runtime.db.session() as session:
        rows = session.scalars(select(TicketForward).where(TicketForward.ticket_id == ticket_id)).all()
        return {r.target: r for r in rows}


def make_due(runtime: Any, job_id: int, **payload_changes: Any) -> float:
    """Time passes: the retry the job asked for is due now. Returns the delay it had asked for."""
    with runtime.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        delay = (job.run_at - utcnow()).total_seconds()
        values: dict[str, Any] = {"run_at": utcnow()}
        if payload_changes:
            values["payload"] = {**job.payload, **payload_changes}
        session.execute(update(Job).where(Job.id == job_id).values(**values))
        return delay


def test_open311_delivery_once(runtime: Any, open311: Open311StandIn) -> None:
    ticket_id = dispatched_ticket(runtime, "dpupr")
    rows = forwards(runtime, ticket_id)
    assert (rows["inbox"].status, rows["open311"].status) == ("delivered", "pending")
    [job_id] = forward_jobs(runtime)
    assert run_job(JobRunner(runtime), job_id) == "done"
    [request] = open311.requests
    form = request.form()
    with runtime.db.session() as session:
        tracking = session.get(Ticket, ticket_id).tracking  # type: ignore[union-attr]
    assert form["api_key"] == API_KEY
    assert form["service_code"] == "002"  # the category's own code wins over the default
    assert form["description"].startswith(f"[LAPOR #{tracking}] Jalan berlubang")
    assert (form["lat"], form["long"]) == ("-6.914744", "107.609810")
    assert "address_string" not in form
    assert_signed_media_link(runtime, form["media_url"])
    # Anonymous: nothing about the reporter leaves the gateway.
    assert not {"first_name", "last_name", "phone", "email"} & set(form)
    assert "6281234567890" not in request.body.decode()
    assert request.headers["idempotency-key"] == forwards(runtime, ticket_id)["open311"].idempotency_key
    row = forwards(runtime, ticket_id)["open311"]
    assert (row.status, row.external_id, row.attempts) == ("delivered", "SR-00001", 1)
    # Running the job again, or disposing to the same agency again, sends nothing more.
    assert run_job(JobRunner(runtime), job_id) == "skipped"
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        dpupr = Actor(kind="operator", id=2, role="agency", agency_id=ticket.agency_id, label="PUPR")
        transition(session, runtime, ticket, "not_our_authority", dpupr, note="salah kirim")
        transition(session, runtime, ticket, "dispose", COORDINATOR, agency="dpupr")
    assert forward_jobs(runtime) == [job_id]
    assert len(open311.requests) == 1 and len(open311.created) == 1
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert [e.action for e in ticket.events if e.action == "forwarded"] == ["forwarded"]


def test_open311_address_when_no_point(runtime: Any, open311: Open311StandIn) -> None:
    ticket_id = dispatched_ticket(runtime, "dpupr", latitude=None, longitude=None, attachments=[])
    [job_id] = forward_jobs(runtime)
    assert run_job(JobRunner(runtime), job_id) == "done"
    form = open311.requests[0].form()
    assert form["address_string"] == "Jl. Merdeka No. 5"
    assert "lat" not in form and "media_url" not in form
    assert forwards(runtime, ticket_id)["open311"].status == "delivered"


def test_retries_back_off_then_deliver_exactly_once(runtime: Any, open311: Open311StandIn) -> None:
    ticket_id = dispatched_ticket(runtime, "dpupr")
    [job_id] = forward_jobs(runtime)
    open311.fail_next(Reply(503, "maintenance"), Reply(429, [{"code": 429, "description": "slow down"}]))
    assert run_job(JobRunner(runtime), job_id) == "retry"
    row = forwards(runtime, ticket_id)["open311"]
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error.startswith("HTTP 503")
    assert run_job(JobRunner(runtime), job_id) == "skipped"  # not due yet
    assert 290 <= make_due(runtime, job_id) <= 300  # retried after 5 minutes
    assert run_job(JobRunner(runtime), job_id) == "retry"
    assert 1790 <= make_due(runtime, job_id) <= 1800  # then every 30 minutes
    assert run_job(JobRunner(runtime), job_id) == "done"
    assert len(open311.requests) == 3
    assert len(open311.created) == 1
    keys = {r.headers["idempotency-key"] for r in open311.requests}
    assert len(keys) == 1  # the same key on every attempt
    row = forwards(runtime, ticket_id)["open311"]
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)


def test_a_lost_answer_is_not_a_second_ticket(runtime: Any, open311: Open311StandIn) -> None:
    """The worker dies after the target stored the ticket, before we recorded it: the retry is recognised."""
    ticket_id = dispatched_ticket(runtime, "dpupr")
    [job_id] = forward_jobs(runtime)
    assert run_job(JobRunner(runtime), job_id) == "done"
    with runtime.db.session() as session:
        session.execute(
            update(TicketForward)
            .where(TicketForward.ticket_id == ticket_id, TicketForward.target == "open311")
            .values(status="pending", delivered_at=None, external_id=None)
        )
        session.execute(update(Job).where(Job.id == job_id).values(status="pending", run_at=utcnow()))
    assert run_job(JobRunner(runtime), job_id) == "done"
    assert len(open311.requests) == 2
    assert len(open311.created) == 1
    assert forwards(runtime, ticket_id)["open311"].external_id == "SR-00001"


def test_gives_up_after_24_hours_and_the_ticket_shows_it(runtime: Any, open311: Open311StandIn) -> None:
    ticket_id = dispatched_ticket(runtime, "dpupr")
    [job_id] = forward_jobs(runtime)
    open311.fail_next(*[Reply(500, "boom")] * 3)
    assert run_job(JobRunner(runtime), job_id) == "retry"
    make_due(runtime, job_id, since=(utcnow() - timedelta(hours=23, minutes=59)).isoformat())
    assert run_job(JobRunner(runtime), job_id) == "retry"  # still inside the 24 hours
    make_due(runtime, job_id, since=(utcnow() - timedelta(hours=24, minutes=1)).isoformat())
    assert run_job(JobRunner(runtime), job_id) == "failed"
    row = forwards(runtime, ticket_id)["open311"]
    assert (row.status, row.attempts) == ("failed", 3)
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.data["forward_failures"] == ["open311"]
        failed = [e for e in ticket.events if e.action == "forward_failed"]
        assert len(failed) == 1 and failed[0].internal and "HTTP 500" in (failed[0].note or "")
        # An operator retries by hand: a fresh job, and this time it goes through.
        assert forwarding.retry_failed(session, ticket, row.agency_id) == 1
    retry_job = forward_jobs(runtime)[-1]
    assert retry_job != job_id
    assert run_job(JobRunner(runtime), retry_job) == "done"
    assert len(open311.created) == 1


def test_webhook_is_signed_and_delivered_once(runtime: Any, receiver: WebhookReceiver) -> None:
    ticket_id = dispatched_ticket(runtime, "dlh", category="sampah", privacy="public", privacy_chosen=True)
    [job_id] = forward_jobs(runtime)
    receiver.fail_next(Reply(502, "bad gateway"))
    assert run_job(JobRunner(runtime), job_id) == "retry"
    make_due(runtime, job_id)
    assert run_job(JobRunner(runtime), job_id) == "done"
    assert len(receiver.requests) == 2 and receiver.duplicates == 0
    [(key, document)] = receiver.delivered.items()
    request = receiver.requests[-1]
    assert request.headers["x-lapor-signature"] == receiver.expected_signature(request.body)
    assert request.headers["idempotency-key"] == key == document["idempotency_key"]
    assert document["event"] == "ticket.dispatched"
    ticket = document["ticket"]
    assert (ticket["agency"], ticket["category"], ticket["status"]) == ("dlh", "sampah", "dispatched")
    assert ticket["reporter"] == {"name": "Budi Santoso", "address": "tel:+6281234567890", "channel": "sms"}
    [link] = ticket["media_urls"]
    assert_signed_media_link(runtime, link)
    assert forwards(runtime, ticket_id)["webhook"].status == "delivered"


def test_webhook_hides_anonymous_reporter(runtime: Any, receiver: WebhookReceiver) -> None:
    dispatched_ticket(runtime, "dlh", category="sampah")
    [job_id] = forward_jobs(runtime)
    assert run_job(JobRunner(runtime), job_id) == "done"
    [document] = receiver.delivered.values()
    assert document["ticket"]["reporter"] is None
    assert "Budi" not in receiver.requests[0].body.decode()
    assert "6281234567890" not in receiver.requests[0].body.decode()


def test_wrong_or_missing_secret_is_retried_not_lost(
    runtime_with: Any, tmp_path: Path, open311: Open311StandIn, receiver: WebhookReceiver
) -> None:
    folder = config_dir(tmp_path, agencies=agencies_doc(open311.endpoint, receiver.url))
    wrong = runtime_with(LAPOR_CONFIG_DIR=str(folder), DLH_WEBHOOK_SECRET="not-the-secret")
    ticket_id = dispatched_ticket(wrong, "dlh", category="sampah")
    [job_id] = forward_jobs(wrong)
    assert run_job(JobRunner(wrong), job_id) == "retry"
    assert forwards(wrong, ticket_id)["webhook"].last_error.startswith("HTTP 401")
    assert receiver.delivered == {}
    unset = runtime_with(LAPOR_CONFIG_DIR=str(folder))
    make_due(unset, job_id)
    assert run_job(JobRunner(unset), job_id) == "retry"
    assert "DLH_WEBHOOK_SECRET" in (forwards(unset, ticket_id)["webhook"].last_error or "")
    assert len(receiver.requests) == 1  # an unsigned body is never sent


def test_agency_without_external_targets_gets_only_the_inbox(runtime: Any) -> None:
    ticket_id = dispatched_ticket(runtime, "diskominfo", category="lainnya")
    assert set(forwards(runtime, ticket_id)) == {"inbox"}
    assert forward_jobs(runtime) == []
