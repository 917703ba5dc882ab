"""A complaint an agency operator takes at their own desk stays with them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.store.models import Ticket, TicketEvent
from tests.inbox.conftest import World
from tests.inbox.test_views_ticket import WALK_IN


def test_an_agency_walk_in_is_disposed_to_that_agency_and_opens(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    response = as_dpupr.post("/inbox/new", data={**WALK_IN, "category": "lainnya"})
    assert response.status_code == 302
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.source == "operator"))
        assert ticket is not None and ticket.agency is not None
        assert (ticket.status, ticket.agency.code) == ("dispatched", "dpupr")
        assert ticket.verified_at is not None, "the person who took it verified it"
        dispose = session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "dispose")
        ).one()
        assert "Putu PU (DPUPR)" in (dispose.actor_label or "")
        tracking = ticket.tracking
    assert response.headers["Location"].endswith(f"/inbox/t/{tracking}")
    page = as_dpupr.get(response.headers["Location"])
    assert page.status_code == 200 and f"Laporan #{tracking} dicatat." in page.get_data(as_text=True)


def test_a_coordinator_walk_in_still_waits_for_verification(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    as_coordinator.post("/inbox/new", data={**WALK_IN, "category": "lainnya"})
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.source == "operator"))
        assert ticket is not None and ticket.status == "unverified"
