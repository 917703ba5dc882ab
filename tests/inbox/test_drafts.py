"""Unfinished drafts: the coordinator sees them, emergencies first, and can file one as a ticket."""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy import select

from gateway.store.models import AuditEntry, Contact, ContactAddress, IncompleteDraft, Message, Ticket
from gateway.tickets import emergency
from tests.inbox.conftest import World


def _draft(runtime: Any, number: str, description: str, **extra: Any) -> int:
    with runtime.db.session() as session:
        contact = Contact(display_name=None, language="id")
        session.add(contact)
        session.flush()
        session.add(ContactAddress(contact_id=contact.id, address=f"tel:{number}", channel="sms"))
        draft = IncompleteDraft(
            contact_id=contact.id,
            channel="sms",
            data={"description": description, "location_text": "Jl. Kenanga 3", "category": "jalan", **extra},
        )
        session.add(draft)
        session.flush()
        return draft.id


def test_the_coordinator_sees_drafts_with_emergencies_first(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    _draft(runtime, "+6285700003333", "Jalan amblas di depan masjid")
    urgent = _draft(runtime, "+6285700004444", "Ada kebakaran rumah di gang", emergency="fire")
    page = html.unescape(as_coordinator.get("/inbox/drafts").get_data(as_text=True))
    assert "Jalan amblas di depan masjid" in page and "Ada kebakaran rumah di gang" in page
    assert page.index(f'data-draft="{urgent}"') < page.index("Jalan amblas")
    assert "Darurat: Kebakaran" in page
    assert 'href="/inbox/drafts"' in page


def test_agencies_do_not_see_drafts(as_dpupr: Any, world: World) -> None:
    assert as_dpupr.get("/inbox/drafts").status_code == 403
    assert 'href="/inbox/drafts"' not in as_dpupr.get("/inbox/tickets").get_data(as_text=True)


def test_a_draft_becomes_a_ticket_through_the_service_audited(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    draft_id = _draft(runtime, "+6285700004444", "Ada kebakaran rumah di gang", emergency="fire")
    response = as_coordinator.post(f"/inbox/drafts/{draft_id}/ticket")
    assert response.status_code == 302
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.description == "Ada kebakaran rumah di gang"))
        assert ticket is not None
        assert ticket.address == "tel:+6285700004444" and ticket.location_text == "Jl. Kenanga 3"
        assert emergency.kind_of(ticket) == "fire"
        assert response.headers["Location"].endswith(f"/inbox/t/{ticket.tracking}")
        told = session.scalars(
            select(Message).where(Message.ticket_id == ticket.id, Message.direction == "out")
        )
        assert any(ticket.tracking in (m.text or "") for m in told), "the citizen is told the number"
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "draft.ticket")) is not None
    # Filed once: it leaves the list, and a second post does not file it again.
    assert "Ada kebakaran rumah" not in as_coordinator.get("/inbox/drafts").get_data(as_text=True)
    assert as_coordinator.post(f"/inbox/drafts/{draft_id}/ticket").status_code == 404
