"""What SMS costs the city: segments counted per channel and month, and the monthly cap.

Real database, Redis, rq worker and loopback providers: the operator answers through the
inbox, the send job plans the message, and the cap decides on the real send path.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gateway.messages.outgoing import queue_message
from gateway.messages.sms_budget import CAP_SETTING, release_held
from gateway.runtime import Runtime
from gateway.store.models import AuditEntry, Contact, ContactAddress, Message, Ticket, utcnow
from gateway.tickets import service
from tests.helpers import drain_jobs
from tests.inbox.conftest import login, make_operator

PHONE = "tel:+6281234500001"
CAP = 10


@pytest.fixture
def settings(settings: Any) -> Any:
    return replace(settings, env={**settings.env, CAP_SETTING: str(CAP)})


def _spend(runtime: Any, segments: int, *, channel: str = "sms", when: Any = None) -> None:
    """Messages already sent this month, one segment each (as the month's earlier traffic)."""
    with runtime.db.session() as session:
        for n in range(segments):
            session.add(
                Message(
                    direction="out",
                    channel=channel,
                    address=f"tel:+62812999{n:05d}",
                    text=f"Laporan {n} diterima.",
                    author="bot",
                    delivery_status="delivered",
                    sent_at=when or utcnow(),
                    payload={},
                )
            )


def _ticket(runtime: Any, *, telegram: bool = False) -> tuple[str, int]:
    with runtime.db.session() as session:
        make_operator(session, "pu@example.id", "agency", "dpupr", "Putu PU")
        make_operator(session, "admin@example.id", "admin", None, "Ani Admin")
        contact = Contact(display_name="Siti Warga")
        session.add(contact)
        session.flush()
        session.add(ContactAddress(contact_id=contact.id, address=PHONE, channel="sms"))
        ticket = service.create_ticket(
            session,
            runtime,
            contact=contact,
            description="Jalan berlubang di depan pasar",
            category="jalan",
            location_text="Jl. Pasar 3",
            privacy="anonymous",
            privacy_chosen=True,
            channel="sms",
            address=PHONE,
        )
        service.transition(session, runtime, ticket, "dispose", service.Actor.system(), agency="dpupr")
        contact_id = contact.id
        if telegram:
            session.add(ContactAddress(contact_id=contact_id, address="telegram:700100", channel="telegram"))
        return ticket.tracking, contact_id


def _operator_reply(app: Any, tracking: str, text: str = "Tim kami survei besok pagi.") -> Message:
    client = app.test_client()
    assert login(client, "pu@example.id").status_code == 302
    assert client.post(f"/inbox/t/{tracking}/reply", data={"text": text, "nonce": text}).status_code == 302
    return client


def _operator_messages(runtime: Any) -> list[Message]:
    with runtime.db.session() as session:
        return list(session.scalars(select(Message).where(Message.author == "operator").order_by(Message.id)))


def test_operator_reply_is_held_at_the_cap_and_released_when_it_is_raised(
    app: Any, runtime: Any, settings: Any, drain: Any, providers: Any
) -> None:
    tracking, _contact = _ticket(runtime)
    _spend(runtime, CAP)
    client = _operator_reply(app, tracking)
    drain()
    (held,) = _operator_messages(runtime)
    assert (held.delivery_status, held.error_code) == ("held", "budget")
    assert held.sent_at is None and "budget" in (held.failure_reason or "")
    # Only this reply counts: a late send from an earlier test may reach the shared stand-in.
    assert not [
        sent
        for sent in providers["sms"].sent
        if sent["to"] == PHONE.removeprefix("tel:+") and "Tim kami survei" in sent.get("text", "")
    ]
    page = client.get(f"/inbox/t/{tracking}").get_data(as_text=True)
    assert 'data-delivery="held"' in page

    # A reply in the dialogue the citizen started is never held, cap or not.
    with runtime.db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.tracking == tracking)).one()
        queue_message(
            session,
            channel="sms",
            address=PHONE,
            text="Terima kasih, laporan Anda kami catat.",
            contact_id=ticket.contact_id,
            dedupe_key="dialogue-1",
            purpose="reply",
        )
    drain()
    with runtime.db.session() as session:
        dialogue = session.scalars(select(Message).where(Message.dedupe_key == "dialogue-1")).one()
        assert dialogue.delivery_status in ("sent", "queued", "delivered") and dialogue.sent_at is not None

    # Still spent: the minute's release leaves it held.
    with runtime.db.session() as session:
        assert release_held(runtime, session) == 0
    # The cap is raised (a new setting, as after a restart): released and sent.
    raised = Runtime(replace(settings, env={**settings.env, CAP_SETTING: str(CAP * 10)}))
    try:
        with raised.db.session() as session:
            held_now = session.scalars(select(Message.id).where(Message.delivery_status == "held")).all()
            assert held.id in held_now  # with the ticket's own notice to the citizen, held alike
            assert release_held(raised, session) == len(held_now)
        drain_jobs(raised)
        (sent,) = _operator_messages(raised)
        assert sent.delivery_status in ("sent", "queued", "delivered") and sent.error_code is None
    finally:
        raised.close()


def test_held_message_is_released_when_the_month_rolls_over(app: Any, runtime: Any, drain: Any) -> None:
    tracking, _contact = _ticket(runtime)
    _spend(runtime, CAP)
    _operator_reply(app, tracking)
    drain()
    assert _operator_messages(runtime)[0].delivery_status == "held"
    # Last month's spending does not count against this month: move it back a month.
    with runtime.db.session() as session:
        for row in session.scalars(
            select(Message).where(Message.author == "bot", Message.sent_at.is_not(None))
        ):
            row.sent_at = utcnow().replace(day=1) - timedelta(days=3)
    with runtime.db.session() as session:
        assert release_held(runtime, session) >= 1
    drain()
    assert _operator_messages(runtime)[0].delivery_status in ("sent", "queued", "delivered")


def test_at_the_cap_an_operator_reply_goes_out_on_the_citizens_other_channel(
    app: Any, runtime: Any, drain: Any
) -> None:
    tracking, _contact = _ticket(runtime, telegram=True)
    _spend(runtime, CAP)
    _operator_reply(app, tracking)
    drain()
    (message,) = _operator_messages(runtime)
    assert message.channel == "telegram" and message.sent_at is not None
    assert message.payload["fallback"]["address"] == "telegram:700100"


def test_below_the_cap_nothing_is_held(app: Any, runtime: Any, drain: Any) -> None:
    tracking, _contact = _ticket(runtime)
    _spend(runtime, CAP // 2)
    _operator_reply(app, tracking)
    drain()
    (message,) = _operator_messages(runtime)
    assert message.channel == "sms" and message.sent_at is not None


def test_admins_are_told_once_at_80_percent_and_the_dashboard_counts_segments(
    app: Any, runtime: Any, caplog: Any
) -> None:
    _ticket(runtime)
    _spend(runtime, 6)
    _spend(runtime, 1, channel="twilio")
    # A two-segment SMS counts two (200 GSM-7 characters).
    with runtime.db.session() as session:
        session.add(
            Message(
                direction="out",
                channel="sms",
                address=PHONE,
                text="a" * 200,
                author="operator",
                delivery_status="sent",
                sent_at=utcnow(),
                payload={},
            )
        )
    with caplog.at_level(logging.WARNING, logger="gateway.messages.sms_budget"):
        with runtime.db.session() as session:
            release_held(runtime, session)
        with runtime.db.session() as session:
            release_held(runtime, session)  # the next minute: not told again
    with runtime.db.session() as session:
        alerts = session.scalars(select(AuditEntry).where(AuditEntry.action == "sms_budget.alert")).all()
        assert len(alerts) == 1 and "9 of 10" in (alerts[0].detail or "")
        assert not session.scalars(
            select(AuditEntry).where(AuditEntry.action == "sms_budget.exhausted")
        ).all()
    assert any("80%" in r.getMessage() for r in caplog.records)

    admin = app.test_client()
    assert login(admin, "admin@example.id").status_code == 302
    page = admin.get("/inbox/dashboard").get_data(as_text=True)
    assert 'data-sms-segments="sms">8<' in page and 'data-sms-segments="twilio">1<' in page
    assert 'data-sms-cap="10"' in page and "sms-budget-alert" in page
    # The costs are shown once, in the page, not inside its <title>.
    title = page[page.index("<title>") : page.index("</title>")]
    assert "sms-costs" not in title and page.count('class="panel sms-costs"') == 1

    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    month = utcnow().strftime("%Y-%m")
    assert f'lapor_sms_segments{{channel="sms",month="{month}"}} 8.0' in metrics
    assert "lapor_sms_segment_cap 10.0" in metrics
