"""Emergency tickets lead the inbox list while open, with a badge on the list and the ticket page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from gateway.store.models import Ticket, utcnow
from gateway.tickets import emergency, service
from tests.inbox.conftest import World, file_ticket


def _order(client: Any, query: str = "") -> list[str]:
    html = client.get(f"/inbox/tickets{query}").get_data(as_text=True)
    return re.findall(r'<tr class="[^"]*" data-tracking="(\d{8})"', html)


def _urgent_ticket(runtime: Any, *, age_days: int = 3) -> str:
    """An emergency filed days ago: older than every other ticket, so only the flag can lift it."""
    with runtime.db.session() as session:
        ticket = file_ticket(
            session, runtime, text="Rumah kebakaran di gang 3", category="lainnya", address=None
        )
        emergency.flag(ticket, "fire")
        ticket.last_activity_at = utcnow() - timedelta(days=age_days)
        return ticket.tracking


def test_an_open_emergency_comes_first_for_the_coordinator(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    urgent = _urgent_ticket(runtime)
    for query in ("", "?tab=unverified", "?tab=all"):
        order = _order(as_coordinator, query)
        assert order[0] == urgent, (query, order)
    html = as_coordinator.get("/inbox/tickets").get_data(as_text=True)
    row = html[html.index(f'data-tracking="{urgent}"') :].split("</tr>", 1)[0]
    assert "badge-emergency" in row and "Darurat" in row
    others = html.split("</tr>")
    assert sum("badge-emergency" in r for r in others) == 1  # only the emergency gets the badge


def test_the_ticket_page_shows_the_emergency_and_its_kind(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    urgent = _urgent_ticket(runtime)
    page = as_coordinator.get(f"/inbox/t/{urgent}").get_data(as_text=True)
    assert "badge-emergency" in page and "Kebakaran" in page
    page = as_coordinator.get(f"/inbox/t/{world.unverified_ticket}").get_data(as_text=True)
    assert "badge-emergency" not in page


def test_a_closed_emergency_goes_back_to_the_ordinary_order(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    urgent = _urgent_ticket(runtime)
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == urgent))
        assert ticket is not None
        system = service.Actor.system()
        service.transition(session, runtime, ticket, "archive", system, reason="not_public_service")
        ticket.last_activity_at = utcnow() - timedelta(days=3)
    order = _order(as_coordinator, "?tab=all")
    assert order[-1] == urgent  # the oldest activity, no longer lifted


def test_an_agency_sees_its_dispatched_emergency_first_and_nothing_else_of_others(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    urgent = _urgent_ticket(runtime)
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == urgent))
        assert ticket is not None
        service.transition(session, runtime, ticket, "dispose", service.Actor.system(), agency="dpupr")
        ticket.last_activity_at = utcnow() - timedelta(days=3)
        other = file_ticket(
            session, runtime, text="Kebakaran lahan dekat pasar", category="lainnya", address=None
        )
        emergency.flag(other, "fire")  # still with the coordinator: not the agency's to see
        other_tracking = other.tracking
    order = _order(as_dpupr)
    assert order[0] == urgent
    assert other_tracking not in order
