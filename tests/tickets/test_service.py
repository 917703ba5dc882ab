"""The ticket service over a real database: routing, transitions, audit, notifications, privacy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from conversations.lifecycle import TransitionRefused
from gateway.store.models import (
    Agency,
    AuditEntry,
    Contact,
    Job,
    Message,
    Ticket,
    TicketEvent,
    TicketForward,
    utcnow,
)
from gateway.tickets import policy
from gateway.tickets.seed import sync_agencies
from gateway.tickets.service import (
    Actor,
    add_citizen_message,
    add_note,
    assign,
    can_see,
    change_category,
    find_ticket,
    operator_reply,
    reveals_reporter,
    set_privacy,
    transition,
    visible_tickets_query,
)
from tests.tickets.conftest import TicketFactory, agency_id, config_dir, load


def outbound(session: Any, tracking: str) -> list[Message]:
    ticket = load(session, tracking)
    return list(
        session.scalars(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.direction == "out")
            .order_by(Message.id)
        )
    )


def events(session: Any, tracking: str) -> list[TicketEvent]:
    return list(load(session, tracking).events)


def act(runtime: Any, tracking: str, action: str, actor: Actor, **args: Any) -> TicketEvent:
    with runtime.db.session() as session:
        return transition(session, runtime, load(session, tracking), action, actor, **args)


def test_create_routes_sets_deadline_and_audits(runtime: Any, make_ticket: TicketFactory) -> None:
    tracking = make_ticket()
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.status == "unverified"
        assert ticket.agency is not None and ticket.agency.code == "dpupr"  # category jalan: certain
        routing = dict(ticket.data["routing"])
        suggestions = routing.pop("suggestions")
        assert routing == {"agency": "dpupr", "certain": True, "reason": "category 'jalan'"}
        assert suggestions[0]["agency"] == "dpupr" and suggestions[0]["words"]  # kept for the coordinator
        assert ticket.privacy == "anonymous"  # the citizen did not choose
        today = policy.today(runtime)
        assert ticket.deadline == policy.calendar(runtime).add_working_days(today, 3)
        [created] = ticket.events
        assert (created.action, created.from_status, created.to_status, created.actor_type) == (
            "created",
            None,
            "unverified",
            "citizen",
        )
        # A ticket from the conversation: the engine's own reply already gave the number.
        assert outbound(session, tracking) == []


def test_unroutable_ticket_belongs_to_the_coordinator(runtime: Any, make_ticket: TicketFactory) -> None:
    tracking = make_ticket(category=None)
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.agency is not None and ticket.agency.code == "diskominfo"
        assert ticket.data["routing"]["certain"] is False


def test_operator_filed_ticket_tells_the_citizen(runtime: Any, make_ticket: TicketFactory) -> None:
    tracking = make_ticket(source="operator", privacy="public", privacy_chosen=True)
    with runtime.db.session() as session:
        [message] = outbound(session, tracking)
        first = events(session, tracking)[0]
        assert message.dedupe_key == f"notify:{first.id}"
        assert message.payload["purpose"] == "notification"
        assert f"#{tracking}" in message.text and "diterima" in message.text
        assert (message.channel, message.address) == ("telegram", "telegram:5550001")
        assert load(session, tracking).privacy == "public"
        job = session.scalar(select(Job).where(Job.kind == "send_message"))
        assert job is not None and job.payload == {"message_id": message.id}


def test_full_lifecycle_with_notifications(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor, dpupr: Actor
) -> None:
    tracking = make_ticket()
    act(runtime, tracking, "dispose", coordinator, agency="dpupr", note="Mohon segera")
    act(runtime, tracking, "start", dpupr, note="Tim dikirim besok")
    act(runtime, tracking, "resolve", dpupr, note="Lubang sudah ditambal")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.status == "resolved"
        assert ticket.resolved_at is not None and ticket.dispatched_at is not None
        assert ticket.first_response_at is not None
        history = [(e.action, e.from_status, e.to_status, e.actor_label) for e in ticket.events]
        assert history == [
            ("created", None, "unverified", "Pelapor"),
            ("dispose", "unverified", "dispatched", coordinator.label),
            ("start", "dispatched", "in_progress", dpupr.label),
            ("resolve", "in_progress", "resolved", dpupr.label),
        ]
        dispose = ticket.events[1]
        assert dispose.note is None and dispose.data == {"agency": "dpupr", "instruction": "Mohon segera"}
        texts = [m.text for m in outbound(session, tracking)]
        assert len(texts) == 4
        assert "Dinas Pekerjaan Umum" in texts[0] and "Mohon segera" not in texts[0]
        assert "sedang diproses" in texts[1] and "Tim dikirim besok" in texts[1]
        assert "Lubang sudah ditambal" in texts[2]
        assert "Seberapa puas" in texts[3]  # the satisfaction question follows the resolution
        assert all(f"#{tracking}" in t for t in texts)
        # Delivery to the inbox is immediate and recorded once.
        [forward] = session.scalars(select(TicketForward).where(TicketForward.ticket_id == ticket.id)).all()
        assert (forward.target, forward.status) == ("inbox", "delivered")


def test_notification_in_english(runtime: Any, make_ticket: TicketFactory, coordinator: Actor) -> None:
    tracking = make_ticket(language="en")
    act(runtime, tracking, "defer", coordinator, note="Which RT is it in?")
    with runtime.db.session() as session:
        [message] = outbound(session, tracking)
        assert "Which RT is it in?" in message.text
        assert message.language == "en"
        assert "Laporan" not in message.text


def test_refused_transition_changes_nothing(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor, dpupr: Actor, dlh: Actor
) -> None:
    tracking = make_ticket()
    act(runtime, tracking, "dispose", coordinator, agency="dpupr")
    with pytest.raises(TransitionRefused) as refused:
        act(runtime, tracking, "start", dlh)
    assert refused.value.code == "forbidden"
    with pytest.raises(TransitionRefused) as refused:
        act(runtime, tracking, "resolve", dpupr, note="  ")
    assert refused.value.code == "missing_argument"
    with pytest.raises(TransitionRefused) as refused:
        act(runtime, tracking, "dispose", coordinator, agency="dpupr")
    assert refused.value.code == "invalid_transition"
    with runtime.db.session() as session:
        assert load(session, tracking).status == "dispatched"
        assert [e.action for e in events(session, tracking)] == ["created", "dispose"]


def test_dispose_to_an_unknown_agency_is_refused(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor
) -> None:
    tracking = make_ticket()
    with pytest.raises(TransitionRefused) as refused:
        act(runtime, tracking, "dispose", coordinator, agency="nasa")
    assert refused.value.code == "invalid_argument"


def test_deferred_ticket_returns_to_verification_when_the_citizen_answers(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor
) -> None:
    tracking = make_ticket()
    act(runtime, tracking, "defer", coordinator, note="Di RT berapa?")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.deadline is None
        message = Message(
            direction="in",
            channel="telegram",
            address="telegram:5550001",
            text="RT 03",
            contact_id=ticket.contact_id,
        )
        session.add(message)
        session.flush()
        event = add_citizen_message(session, runtime, ticket, message)
        assert event is not None and (event.action, event.actor_type) == ("answer", "citizen")
        assert ticket.status == "unverified" and ticket.has_unread
        assert ticket.deadline is not None
        assert message.ticket_id == ticket.id


def test_citizen_reply_reopens_within_the_window_only(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor, dpupr: Actor
) -> None:
    tracking = make_ticket()
    act(runtime, tracking, "dispose", coordinator, agency="dpupr")
    act(runtime, tracking, "resolve", dpupr, note="Sudah ditambal")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        reply = Message(
            direction="in", channel="telegram", address="telegram:5550001", text="Belum, masih rusak"
        )
        session.add(reply)
        session.flush()
        event = add_citizen_message(session, runtime, ticket, reply)
        assert event is not None and event.action == "reopen"
        assert ticket.status == "dispatched" and ticket.agency is not None and ticket.agency.code == "dpupr"
        assert ticket.resolved_at is None
        assert "dibuka kembali" in outbound(session, tracking)[-1].text
    act(runtime, tracking, "resolve", dpupr, note="Sudah ditambal ulang")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        # Resolved 15 calendar days ago: more than 10 working days whatever the holidays.
        ticket.resolved_at = utcnow() - timedelta(days=30)
        late = Message(direction="in", channel="telegram", address="telegram:5550001", text="Rusak lagi")
        session.add(late)
        session.flush()
        assert add_citizen_message(session, runtime, ticket, late) is None
        assert ticket.status == "resolved" and ticket.has_unread


def test_not_our_authority_goes_back_to_the_coordinator(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor, dpupr: Actor, dlh: Actor
) -> None:
    tracking = make_ticket()
    act(runtime, tracking, "dispose", coordinator, agency="dpupr")
    sent_before = 1
    act(runtime, tracking, "not_our_authority", dpupr, note="Ini soal sampah, bukan jalan")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert (
            ticket.status == "unverified" and ticket.agency is not None and ticket.agency.code == "diskominfo"
        )
        assert ticket.data["refused_by"] == ["dpupr"]
        last = ticket.events[-1]
        assert (last.action, last.internal, last.note) == (
            "not_our_authority",
            True,
            "Ini soal sampah, bukan jalan",
        )
        assert (
            len(outbound(session, tracking)) == sent_before
        )  # the citizen is not told about the back-and-forth
        assert not can_see(dpupr, ticket)
    act(runtime, tracking, "dispose", coordinator, agency="dlh")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert can_see(dlh, ticket) and not can_see(dpupr, ticket)


def test_archive_duplicate_tells_the_reason(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor
) -> None:
    first = make_ticket()
    second = make_ticket()
    with pytest.raises(TransitionRefused):
        act(
            runtime, second, "archive", coordinator, reason="duplicate", duplicate_of="12345678"
        )  # bad check digit
    act(runtime, second, "archive", coordinator, reason="duplicate", duplicate_of=f"#{first}")
    with runtime.db.session() as session:
        ticket = load(session, second)
        assert ticket.status == "archived" and ticket.closed_at is not None
        assert ticket.events[-1].data == {"reason": "duplicate", "duplicate_of": first}
        [message] = outbound(session, second)
        assert f"#{first}" in message.text and f"#{second}" in message.text
    act(runtime, second, "reopen", coordinator)
    with runtime.db.session() as session:
        assert load(session, second).status == "unverified"  # never disposed: back to verification


def test_auto_dispatch_per_category(runtime_with: Any, tmp_path: Any) -> None:
    from gateway.store.models import Contact
    from gateway.tickets.service import create_ticket

    categories = {
        "categories": [
            {
                "code": "sampah",
                "name": {"id": "Sampah"},
                "keywords": ["sampah"],
                "auto_dispatch": True,
                "deadlines": {"follow_up": 2},
            },
            {"code": "lainnya", "name": {"id": "Lainnya"}},
        ]
    }
    runtime = runtime_with(LAPOR_CONFIG_DIR=str(config_dir(tmp_path, categories=categories)))
    with runtime.db.session() as session:
        contact = Contact(display_name="Ani")
        session.add(contact)
        session.flush()
        ticket = create_ticket(
            session,
            runtime,
            contact=contact,
            description="Sampah menumpuk di TPS",
            category="sampah",
            channel="sms",
            address="tel:+6281234567890",
            language="id",
            source="message",
        )
        assert ticket.status == "dispatched" and ticket.agency is not None and ticket.agency.code == "dlh"
        assert [e.action for e in ticket.events] == ["created", "dispose"]
        assert ticket.events[1].actor_type == "system"
        today = policy.today(runtime)
        assert ticket.deadline == policy.calendar(runtime).add_working_days(today, 2)  # category override
        [message] = session.scalars(select(Message).where(Message.ticket_id == ticket.id)).all()
        assert "Dinas Lingkungan Hidup" in message.text


def test_visibility_and_reporter(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor, dpupr: Actor, dlh: Actor
) -> None:
    waiting = make_ticket()  # routed to dpupr, not yet verified
    anonymous = make_ticket()
    public = make_ticket(privacy="public", privacy_chosen=True)
    for tracking in (anonymous, public):
        act(runtime, tracking, "dispose", coordinator, agency="dpupr")
    api_dpupr = Actor(
        kind="api", id=9, role="api-agency", agency_id=agency_id(runtime, "dpupr"), label="API: opd"
    )
    with runtime.db.session() as session:

        def seen(actor: Actor) -> set[str]:
            return set(session.scalars(visible_tickets_query(actor).with_only_columns(Ticket.tracking)))

        assert seen(coordinator) == {waiting, anonymous, public}
        assert seen(dpupr) == {anonymous, public} == seen(api_dpupr)
        assert seen(dlh) == set()
        assert find_ticket(session, dlh, anonymous) is None
        assert find_ticket(session, dpupr, f"#{anonymous}") is not None
        anon, pub = load(session, anonymous), load(session, public)
        assert not reveals_reporter(dpupr, anon) and not reveals_reporter(api_dpupr, anon)
        assert reveals_reporter(dpupr, pub) and reveals_reporter(coordinator, anon)
        citizen = Actor.citizen(anon.contact_id)
        assert seen(citizen) == {anonymous}


def test_privacy_changes_are_audited(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor, dpupr: Actor
) -> None:
    tracking = make_ticket(privacy="public", privacy_chosen=True)
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        set_privacy(session, runtime, ticket, coordinator, "confidential")
        with pytest.raises(TransitionRefused) as refused:
            set_privacy(session, runtime, ticket, coordinator, "public")
        assert "only the citizen" in str(refused.value)
        with pytest.raises(TransitionRefused):
            set_privacy(session, runtime, ticket, dpupr, "anonymous")
        set_privacy(session, runtime, ticket, Actor.citizen(ticket.contact_id), "anonymous")
        set_privacy(session, runtime, ticket, coordinator, "public", citizen_consent=True)
        assert ticket.privacy == "public"
        notes = [e.note for e in ticket.events if e.action == "privacy"]
        assert notes == [
            "public -> confidential",
            "confidential -> anonymous",
            "anonymous -> public (with the citizen's consent)",
        ]
        assert (
            session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "ticket.privacy"))
            == 3
        )


def test_operator_reply_note_assign_and_category(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor, dpupr: Actor, dlh: Actor
) -> None:
    tracking = make_ticket()
    act(runtime, tracking, "dispose", coordinator, agency="dpupr")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        message = operator_reply(session, runtime, ticket, dpupr, "Petugas akan datang hari Senin.")
        assert message.author == "operator" and message.operator_id == dpupr.id
        assert f"#{tracking}" in message.text and "Senin" in message.text
        assert message.payload["purpose"] == "notification"
        assert ticket.first_response_at is not None and not ticket.has_unread
        with pytest.raises(TransitionRefused):
            operator_reply(session, runtime, ticket, dlh, "Bukan urusan kami")
        with pytest.raises(TransitionRefused):
            operator_reply(session, runtime, ticket, dpupr, "   ")
        note = add_note(session, runtime, ticket, dpupr, "Cek anggaran dulu")
        assert note.internal
        assign(session, runtime, ticket, dpupr, dpupr.id)
        assert ticket.assigned_operator_id == dpupr.id
        with pytest.raises(TransitionRefused):
            assign(session, runtime, ticket, dpupr, dlh.id)
        with pytest.raises(TransitionRefused):
            change_category(session, runtime, ticket, dpupr, "sampah")
        change_category(session, runtime, ticket, coordinator, "drainase")
        assert ticket.category == "drainase" and ticket.agency is not None and ticket.agency.code == "dpupr"
        # The citizen says STOP: no more replies can go out.
        contact = session.get(Contact, ticket.contact_id)
        assert contact is not None
        contact.opted_out = True
        with pytest.raises(TransitionRefused) as refused:
            operator_reply(session, runtime, ticket, dpupr, "Halo?")
        assert "opted out" in str(refused.value)


def test_category_change_reroutes_an_unverified_ticket(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor
) -> None:
    tracking = make_ticket(category=None)
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        change_category(session, runtime, ticket, coordinator, "air")
        assert ticket.agency is not None and ticket.agency.code == "pdam"
        assert ticket.data["routing"]["certain"] is True


def test_sync_agencies_upserts_and_retires(runtime: Any) -> None:
    from dataclasses import replace

    catalog = runtime.catalog
    with runtime.db.session() as session:
        renamed = replace(catalog.agencies[1], name="Dinas PU Baru")
        shrunk = replace(catalog, agencies=(catalog.agencies[0], renamed))
        rows = sync_agencies(session, shrunk)
        assert set(rows) == {catalog.agencies[0].code, renamed.code}
        assert rows[renamed.code].name == "Dinas PU Baru"
        inactive = set(session.scalars(select(Agency.code).where(Agency.active.is_(False))))
        assert inactive == {a.code for a in catalog.agencies[2:]}
        sync_agencies(session, catalog)
        assert session.scalar(select(func.count(Agency.id)).where(Agency.active.is_(False))) == 0
        assert session.scalar(select(func.count(Agency.id))) == len(catalog.agencies)


def test_a_disposition_outside_regional_authority_is_a_referral(
    runtime: Any, make_ticket: TicketFactory, coordinator: Actor
) -> None:
    """PLN is not ours to act on: no forward, no "forwarded to" notice; resolved at once with where to go."""
    tracking = make_ticket()
    act(runtime, tracking, "dispose", coordinator, agency="pln")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.status == "resolved" and ticket.resolved_at is not None
        assert [(e.action, e.to_status) for e in ticket.events] == [
            ("created", "unverified"),
            ("dispose", "dispatched"),
            ("resolve", "resolved"),
        ]
        assert ticket.events[-1].note is not None and "PLN Mobile" in ticket.events[-1].note
        [message] = outbound(session, tracking)
        assert "PT PLN (Persero)" in message.text and "PLN Mobile" in message.text
        assert not session.scalars(select(TicketForward).where(TicketForward.ticket_id == ticket.id)).all()


def test_each_action_has_its_steps(runtime: Any) -> None:
    """The table of side effects names every action of the lifecycle, and nothing else."""
    from conversations import lifecycle as lc
    from gateway.tickets import service

    assert set(service._BEFORE_EVENT) == set(lc.TRANSITIONS)
    assert set(service._AFTER_EVENT) <= set(lc.TRANSITIONS)
