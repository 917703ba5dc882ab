"""Moderation before publishing: the coordinator's public summary replaces the complaint's text on
public surfaces (still redacted, only for public tickets); the original stays, the change is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.store.models import AuditEntry, Ticket, TicketEvent, utcnow
from tests.inbox.conftest import World

ORIGINAL = "Trotoar rusak dekat halte"
ACCUSING = "Trotoar rusak, pasti dikorupsi Pak Budi kepala seksi, hubungi saya 081234567890"
SUMMARY = "Trotoar rusak dekat halte bus, hubungi 081234567890"


def _verify(runtime: Any, tracking: str, description: str = ACCUSING) -> None:
    """A verified (public) ticket whose text names someone and carries a number."""
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        ticket.verified_at = utcnow()
        ticket.description = description


def _ticket(runtime: Any, tracking: str) -> Ticket:
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        return ticket


def test_public_surfaces_show_the_summary_redacted_and_the_original_stays(
    as_coordinator: Any, client: Any, world: World, runtime: Any
) -> None:
    _verify(runtime, world.public_ticket)
    before = client.get(f"/open311/v2/requests/{world.public_ticket}.json").get_json()[0]
    assert "dikorupsi" in before["description"]
    response = as_coordinator.post(f"/inbox/t/{world.public_ticket}/public-summary", data={"text": SUMMARY})
    assert response.status_code == 302
    ticket = _ticket(runtime, world.public_ticket)
    assert ticket.description == ACCUSING  # the record keeps what the citizen wrote
    after = client.get(f"/open311/v2/requests/{world.public_ticket}.json").get_json()[0]
    assert after["description"].startswith("Trotoar rusak dekat halte bus")
    assert "dikorupsi" not in after["description"]
    assert "081234567890" not in after["description"]  # the summary is redacted too
    listing = client.get("/", query_string={"q": "halte"}).get_data(as_text=True)
    assert "halte bus" in listing and "dikorupsi" not in listing
    with runtime.db.session() as session:
        event = session.scalar(select(TicketEvent).where(TicketEvent.action == "public_summary"))
        assert event is not None and event.internal
        assert event.data["previous"] is None and event.data["summary"] == SUMMARY
        assert (
            session.scalar(select(AuditEntry).where(AuditEntry.action == "ticket.public_summary")) is not None
        )


def test_clearing_the_summary_shows_the_redacted_complaint_again(
    as_coordinator: Any, client: Any, world: World, runtime: Any
) -> None:
    _verify(runtime, world.public_ticket, ORIGINAL)
    as_coordinator.post(f"/inbox/t/{world.public_ticket}/public-summary", data={"text": "Ringkasan"})
    as_coordinator.post(f"/inbox/t/{world.public_ticket}/public-summary", data={"text": "  "})
    shown = client.get(f"/open311/v2/requests/{world.public_ticket}.json").get_json()[0]
    assert shown["description"] == ORIGINAL


def test_a_summary_does_not_make_a_ticket_public(
    as_coordinator: Any, client: Any, world: World, runtime: Any
) -> None:
    as_coordinator.post(f"/inbox/t/{world.unverified_ticket}/public-summary", data={"text": "Lampu mati"})
    shown = client.get(f"/open311/v2/requests/{world.unverified_ticket}.json").get_json()[0]
    assert "description" not in shown
    assert "Lampu mati" not in client.get("/").get_data(as_text=True)


def test_agency_operators_cannot_moderate(as_dpupr: Any, world: World, runtime: Any) -> None:
    response = as_dpupr.post(f"/inbox/t/{world.public_ticket}/public-summary", data={"text": "x"})
    assert response.status_code == 403
    assert "public_summary" not in (_ticket(runtime, world.public_ticket).data or {})


def test_the_thread_shows_the_form_to_the_coordinator_only(
    as_coordinator: Any, as_dpupr: Any, world: World
) -> None:
    url = f"/inbox/t/{world.public_ticket}/public-summary"
    assert url in as_coordinator.get(f"/inbox/t/{world.public_ticket}").get_data(as_text=True)
    assert url not in as_dpupr.get(f"/inbox/t/{world.public_ticket}").get_data(as_text=True)
