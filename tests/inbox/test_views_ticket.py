"""The thread's actions through the forms: replies, notes, lifecycle actions, walk-in complaints."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from conversations import lifecycle as lc
from gateway.store.models import AuditEntry, CannedResponse, Message, Ticket, TicketEvent
from tests.inbox.conftest import World


def _ticket(runtime: Any, tracking: str) -> Ticket:
    with runtime.db.session() as session:
        ticket = session.scalar(
            select(Ticket).options(joinedload(Ticket.agency)).where(Ticket.tracking == tracking)
        )
        assert ticket is not None
        return ticket


def _refusal(response: Any) -> list[str]:
    """The errors a refused form shows: the page comes back at once (400), the text kept in its form."""
    assert response.status_code == 400, response.status_code
    page = response.get_data(as_text=True)
    return [html.unescape(text) for text in re.findall(r'<div class="flash flash-error">(.*?)</div>', page)]


def _flashed_errors(client: Any, tracking: str) -> list[str]:
    """The error flashes the next page of the thread shows (read once, as the operator would)."""
    page = client.get(f"/inbox/t/{tracking}").get_data(as_text=True)
    return [html.unescape(text) for text in re.findall(r'<div class="flash flash-error">(.*?)</div>', page)]


def _operator_messages(runtime: Any) -> list[Message]:
    with runtime.db.session() as session:
        return list(session.scalars(select(Message).where(Message.author == "operator").order_by(Message.id)))


def test_reply_is_queued_shown_at_once_and_sent_once_on_double_submit(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    data = {"text": "Tim kami akan survei lokasi besok pagi.", "nonce": "n-1"}
    first = as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data=data)
    second = as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data=data)
    assert first.status_code == second.status_code == 302
    messages = _operator_messages(runtime)
    assert len(messages) == 1
    assert messages[0].delivery_status == "pending" and messages[0].address == "whatsapp:+6281234567890"
    assert "Tim kami akan survei" in messages[0].text
    page = as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert 'data-delivery="pending"' in page and "antre" in page


def test_failed_delivery_shows_the_reason(as_dpupr: Any, world: World, runtime: Any) -> None:
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "Halo", "nonce": "n-2"})
    with runtime.db.session() as session:
        message = session.scalars(select(Message).where(Message.author == "operator")).one()
        message.delivery_status, message.failure_reason = "failed", "131047 re-engagement window closed"
    page = as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert "gagal" in page and "131047 re-engagement window closed" in page


def test_canned_response_by_short_code(as_dpupr: Any, world: World, runtime: Any) -> None:
    with runtime.db.session() as session:
        session.add(
            CannedResponse(code="survei", title="Survei", text="Petugas akan meninjau lokasi.", language="id")
        )
    as_dpupr.post(
        f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "/survei Besok jam 9.", "nonce": "n-3"}
    )
    text = _operator_messages(runtime)[0].text
    assert "Petugas akan meninjau lokasi." in text and "Besok jam 9." in text and "/survei" not in text


def test_internal_note_never_reaches_the_citizen(as_dpupr: Any, world: World, runtime: Any) -> None:
    with runtime.db.session() as session:
        before = len(session.scalars(select(Message).where(Message.direction == "out")).all())
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/note", data={"text": "Cek anggaran pemeliharaan dulu"})
    with runtime.db.session() as session:
        assert len(session.scalars(select(Message).where(Message.direction == "out")).all()) == before
        note = session.scalars(select(TicketEvent).where(TicketEvent.action == "note")).one()
        assert note.internal and note.note == "Cek anggaran pemeliharaan dulu"
    assert "Cek anggaran pemeliharaan dulu" in as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").get_data(
        as_text=True
    )


def test_coordinator_disposes_and_agency_starts_and_resolves(
    as_coordinator: Any, as_dpupr: Any, world: World, runtime: Any
) -> None:
    response = as_coordinator.post(
        f"/inbox/t/{world.unverified_ticket}/action", data={"action": "dispose", "agency": "dpupr"}
    )
    assert response.status_code == 302
    assert _ticket(runtime, world.unverified_ticket).status == "dispatched"
    assert as_dpupr.get(f"/inbox/t/{world.unverified_ticket}").status_code == 200
    as_dpupr.post(f"/inbox/t/{world.unverified_ticket}/action", data={"action": "start"})
    assert _ticket(runtime, world.unverified_ticket).status == "in_progress"
    # Resolving needs the follow-up text: refused without it, nothing changes.
    refused = as_dpupr.post(
        f"/inbox/t/{world.unverified_ticket}/action", data={"action": "resolve", "note": ""}
    )
    assert _ticket(runtime, world.unverified_ticket).status == "in_progress"
    assert _refusal(refused) == [
        "Tindakan “Selesaikan (tindak lanjut)” memerlukan isian “Catatan”. Mohon dilengkapi."
    ]
    as_dpupr.post(
        f"/inbox/t/{world.unverified_ticket}/action",
        data={"action": "resolve", "note": "Lampu sudah diganti."},
    )
    ticket = _ticket(runtime, world.unverified_ticket)
    assert ticket.status == "resolved" and ticket.resolved_at is not None
    with runtime.db.session() as session:
        actions = [
            a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id))
        ]
        assert actions == ["ticket.dispose", "ticket.start", "ticket.resolve"]


def test_agency_operator_cannot_dispose_or_archive(as_dpupr: Any, world: World, runtime: Any) -> None:
    archive = as_dpupr.post(
        f"/inbox/t/{world.dpupr_ticket}/action", data={"action": "archive", "reason": "too_general"}
    )
    dispose = as_dpupr.post(
        f"/inbox/t/{world.dpupr_ticket}/action", data={"action": "dispose", "agency": "dlh"}
    )
    ticket = _ticket(runtime, world.dpupr_ticket)
    assert ticket.status == "dispatched" and ticket.agency.code == "dpupr"
    assert "tidak berwenang" in _refusal(archive)[0] and "tidak berwenang" in _refusal(dispose)[0]


#: English words of the service's messages (for the API) that must not reach an Indonesian operator.
ENGLISH_WORDS = re.compile(r"\b(may not|ticket|agency|cannot|only from|needs|loosens|citizen)\b", re.I)
RAW_CODES = re.compile(r"\b(agency|archive|start|in_progress|dispatched|anonymous|public)\b")


def test_refusals_read_as_indonesian_sentences(
    as_dpupr: Any, as_coordinator: Any, world: World, runtime: Any
) -> None:
    url = f"/inbox/t/{world.dpupr_ticket}"
    # A role without the permission: an agency operator may not archive.
    flashes = _refusal(as_dpupr.post(f"{url}/action", data={"action": "archive", "reason": "too_general"}))
    assert flashes == ["Peran Anda (Petugas OPD) tidak berwenang melakukan tindakan “Arsipkan”."]
    # Not from this status: statuses are named as the inbox names them, not by code.
    as_dpupr.post(f"{url}/action", data={"action": "start"})
    flashes += _refusal(as_dpupr.post(f"{url}/action", data={"action": "start"}))
    assert flashes[1] == (
        "Tindakan “Mulai proses” tidak dapat dilakukan pada laporan berstatus “Sedang Diproses”. "
        "Tindakan ini hanya dapat dilakukan dari status: Terdisposisi."
    )
    # Assigning an operator of another agency.
    as_dpupr.post(f"{url}/assign", data={"operator_id": str(world.dlh)})
    flashes += _flashed_errors(as_dpupr, world.dpupr_ticket)
    assert flashes[2] == "Anda hanya dapat menugaskan petugas dari OPD Anda sendiri."
    # Loosening the reporter's privacy choice is the reporter's.
    as_coordinator.post(f"{url}/privacy", data={"privacy": "public"})
    flashes += _flashed_errors(as_coordinator, world.dpupr_ticket)
    assert flashes[3] == (
        "Mengubah privasi dari “Anonim” menjadi “Biasa” melonggarkan pilihan pelapor; "
        "hanya pelapor sendiri yang dapat melakukannya."
    )
    for text in flashes:
        assert not ENGLISH_WORDS.search(text) and not RAW_CODES.search(text), text
        assert "(" not in text.replace("(Petugas OPD)", "").replace("(tindak lanjut)", ""), text


def test_refusals_follow_the_operators_language(as_dpupr: Any, world: World, runtime: Any) -> None:
    as_dpupr.post("/inbox/language", data={"lang": "en", "next": f"/inbox/t/{world.dpupr_ticket}"})
    url = f"/inbox/t/{world.dpupr_ticket}"
    assert _refusal(as_dpupr.post(f"{url}/action", data={"action": "archive", "reason": "too_general"})) == [
        "Your role (Agency operator) may not do “Archive”."
    ]
    as_dpupr.post(f"{url}/action", data={"action": "start"})
    assert _refusal(as_dpupr.post(f"{url}/action", data={"action": "start"})) == [
        "“Start work” is not possible for a ticket that is “In progress”. "
        "It is only possible from: Dispatched."
    ]


def test_a_refusal_without_a_text_falls_back_to_the_english_message(app: Any, world: World) -> None:
    from flask import session

    from gateway.web.inbox.views_ticket import refusal_text

    exc = lc.TransitionRefused("forbidden", "a new rule said no", key="no_text_yet_for_this")
    unkeyed = lc.TransitionRefused("invalid_argument", "an old raise without a key")
    with app.test_request_context("/inbox/tickets"):
        session["lang"] = "id"
        assert refusal_text(exc) == "Anda tidak berwenang melakukan ini. (a new rule said no)"
        assert refusal_text(unkeyed) == "Isian tidak sah. (an old raise without a key)"
        session["lang"] = "en"
        assert refusal_text(exc) == "You are not allowed to do this. (a new rule said no)"


def test_an_unknown_code_in_a_refusal_shows_as_typed(app: Any, world: World) -> None:
    from flask import session

    from gateway.web.inbox.views_ticket import refusal_text

    with app.test_request_context("/inbox/tickets"):
        session["lang"] = "id"
        try:
            lc.plan_transition("unverified", "archive", "admin", args={"reason": "bosan"})
        except lc.TransitionRefused as exc:
            assert refusal_text(exc) == (
                "Alasan arsip “bosan” tidak dikenal. Mohon pilih salah satu: Terlalu umum, "
                "Bukan pelayanan publik, Duplikat, Pelapor tidak menanggapi, Lainnya."
            )
        else:
            raise AssertionError("an unknown archive reason was accepted")


def test_not_our_authority_hands_the_ticket_back(as_dpupr: Any, world: World, runtime: Any) -> None:
    response = as_dpupr.post(
        f"/inbox/t/{world.dpupr_ticket}/action",
        data={"action": "not_our_authority", "note": "Jalan provinsi"},
    )
    assert response.headers["Location"].endswith("/inbox/tickets")
    assert _ticket(runtime, world.dpupr_ticket).status == "unverified"
    assert as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").status_code == 404


def test_archive_as_duplicate_needs_the_other_number(as_coordinator: Any, world: World, runtime: Any) -> None:
    url = f"/inbox/t/{world.unverified_ticket}/action"
    refused = as_coordinator.post(url, data={"action": "archive", "reason": "duplicate"})
    assert _ticket(runtime, world.unverified_ticket).status == "unverified"
    assert _refusal(refused) == [
        "Untuk mengarsipkan dengan alasan “Duplikat”, mohon isi nomor laporan yang sama."
    ]
    as_coordinator.post(
        url, data={"action": "archive", "reason": "duplicate", "duplicate_of": world.dpupr_ticket}
    )
    assert _ticket(runtime, world.unverified_ticket).status == "archived"
    as_coordinator.post(url, data={"action": "reopen"})
    assert _ticket(runtime, world.unverified_ticket).status == "unverified"


def test_assign_within_the_agency_only(as_dpupr: Any, world: World, runtime: Any) -> None:
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/assign", data={"operator_id": str(world.dlh)})
    assert _ticket(runtime, world.dpupr_ticket).assigned_operator_id is None
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/assign", data={"operator_id": str(world.dpupr2)})
    assert _ticket(runtime, world.dpupr_ticket).assigned_operator_id == world.dpupr2
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/assign", data={"operator_id": "abc"})
    assert _ticket(runtime, world.dpupr_ticket).assigned_operator_id == world.dpupr2


def test_category_change_is_the_coordinators(
    as_coordinator: Any, as_dpupr: Any, world: World, runtime: Any
) -> None:
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/category", data={"category": "drainase"})
    assert _ticket(runtime, world.dpupr_ticket).category == "jalan"
    as_coordinator.post(f"/inbox/t/{world.unverified_ticket}/category", data={"category": "sampah"})
    ticket = _ticket(runtime, world.unverified_ticket)
    assert ticket.category == "sampah" and ticket.agency.code == "dlh"
    as_coordinator.post(f"/inbox/t/{world.unverified_ticket}/category", data={"category": "no-such"})
    assert _ticket(runtime, world.unverified_ticket).category == "sampah"


def test_privacy_can_be_tightened_not_loosened(as_coordinator: Any, world: World, runtime: Any) -> None:
    as_coordinator.post(f"/inbox/t/{world.dpupr_ticket}/privacy", data={"privacy": "public"})
    assert _ticket(runtime, world.dpupr_ticket).privacy == "anonymous"
    as_coordinator.post(f"/inbox/t/{world.dpupr_ticket}/privacy", data={"privacy": "confidential"})
    assert _ticket(runtime, world.dpupr_ticket).privacy == "confidential"


def test_opening_the_thread_clears_the_new_message_mark_for_the_owner(
    as_coordinator: Any, as_dpupr: Any, world: World, runtime: Any
) -> None:
    with runtime.db.session() as session:
        session.scalar(select(Ticket).where(Ticket.tracking == world.dpupr_ticket)).has_unread = True
    as_coordinator.get(f"/inbox/t/{world.dpupr_ticket}")
    assert _ticket(runtime, world.dpupr_ticket).has_unread  # the coordinator is not who must answer
    as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}")
    assert not _ticket(runtime, world.dpupr_ticket).has_unread


# --------------------------------------------------------------------------- walk-in and phone complaints
WALK_IN = {
    "name": "Budi Santoso",
    "phone": "0812-1111-2222",
    "updates": "sms",
    "consent": "y",
    "description": "Saluran air di RT 03 tersumbat, banjir setiap hujan",
    "location": "Kelurahan Sukamaju",
    "category": "drainase",
    "privacy": "public",
    "language": "id",
}


def test_walk_in_complaint_with_consent_becomes_a_ticket_with_sms_updates(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    response = as_coordinator.post("/inbox/new", data=WALK_IN)
    assert response.status_code == 302
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.source == "operator"))
        assert ticket is not None
        assert ticket.channel == "sms" and ticket.address == "tel:+6281211112222"
        assert ticket.consent_recorded and ticket.data["consent"]["given"]
        assert ticket.contact is not None and ticket.contact.display_name == "Budi Santoso"
        notice = session.scalars(
            select(Message).where(Message.ticket_id == ticket.id, Message.direction == "out")
        ).all()
        assert len(notice) == 1 and ticket.tracking in notice[0].text
        tracking = ticket.tracking
    assert response.headers["Location"].endswith(f"/inbox/t/{tracking}")


def test_walk_in_refuses_updates_without_consent_or_with_a_bad_number(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    no_consent = {k: v for k, v in WALK_IN.items() if k != "consent"}
    response = as_coordinator.post("/inbox/new", data=no_consent)
    assert response.status_code == 400 and "persetujuan" in response.get_data(as_text=True)
    response = as_coordinator.post("/inbox/new", data={**WALK_IN, "phone": "12"})
    assert response.status_code == 400 and "Nomor HP tidak sah" in response.get_data(as_text=True)
    response = as_coordinator.post("/inbox/new", data={**WALK_IN, "description": "pendek"})
    assert response.status_code == 400
    with runtime.db.session() as session:
        assert session.scalar(select(Ticket).where(Ticket.source == "operator")) is None


def test_walk_in_without_updates_needs_no_phone(as_coordinator: Any, world: World, runtime: Any) -> None:
    data = {**WALK_IN, "updates": "none", "phone": "", "name": ""}
    data.pop("consent")
    assert as_coordinator.post("/inbox/new", data=data).status_code == 302
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.source == "operator"))
        assert ticket is not None and ticket.channel is None and not ticket.consent_recorded
