"""Working through a queue: select tickets, choose an action, see the preview, confirm.

Every ticket goes through the ticket service's transition (its rules, its audit
row, the citizen's notification), one at a time: a refused ticket is reported
and the others still go.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.store.models import AuditEntry, Ticket, TicketEvent
from tests.inbox.conftest import World, file_ticket


def _status(runtime: Any, tracking: str) -> str:
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        return ticket.status


def _unverified(runtime: Any, count: int) -> list[str]:
    with runtime.db.session() as session:
        return [
            file_ticket(
                session,
                runtime,
                text=f"Jalan berlubang nomor {i}",
                category="jalan",
                address=f"whatsapp:+62813555000{i}",
            ).tracking
            for i in range(count)
        ]


def test_preview_lists_what_will_happen_and_changes_nothing(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    tickets = _unverified(runtime, 2)
    page = as_coordinator.get(
        "/inbox/bulk",
        query_string={"t": [*tickets, world.dlh_ticket], "action": "dispose", "agency": "dpupr"},
    )
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for tracking in tickets:
        assert f"#{tracking}" in text
    assert 'name="confirm"' in text
    # A dispatched ticket cannot be disposed again: the preview says it will be skipped.
    assert "data-skip" in text and world.dlh_ticket in text
    assert all(_status(runtime, t) == "unverified" for t in tickets)


def test_confirmed_bulk_dispose_goes_through_the_service_and_is_audited(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    tickets = _unverified(runtime, 3)
    response = as_coordinator.post(
        "/inbox/bulk",
        data={"t": [*tickets, world.dlh_ticket], "action": "dispose", "agency": "dpupr", "confirm": "1"},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert all(_status(runtime, t) == "dispatched" for t in tickets)
    assert _status(runtime, world.dlh_ticket) == "dispatched"  # refused, unchanged, reported
    assert world.dlh_ticket in body and "data-refused" in body
    assert "data-next" in body  # the next ticket to work on
    with runtime.db.session() as session:
        events = session.scalars(select(TicketEvent).where(TicketEvent.action == "dispose")).all()
        assert sum(1 for e in events if e.actor_type == "operator") == 3
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.dispose")).all()
        assert len(audits) == 3 and all("bulk" in (a.detail or "") for a in audits)


def test_bulk_verify_disposes_each_to_its_routing_suggestion(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    tickets = _unverified(runtime, 2)
    as_coordinator.post("/inbox/bulk", data={"t": tickets, "action": "verify", "confirm": "1"})
    with runtime.db.session() as session:
        for tracking in tickets:
            ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
            assert ticket is not None and ticket.status == "dispatched"
            assert ticket.agency is not None and ticket.agency.code == ticket.data["routing"]["agency"]
            assert ticket.verified_at is not None


def test_bulk_archive_needs_a_reason_and_archives(as_coordinator: Any, world: World, runtime: Any) -> None:
    tickets = _unverified(runtime, 2)
    refused = as_coordinator.post("/inbox/bulk", data={"t": tickets, "action": "archive", "confirm": "1"})
    assert refused.status_code == 400
    assert all(_status(runtime, t) == "unverified" for t in tickets)
    as_coordinator.post(
        "/inbox/bulk", data={"t": tickets, "action": "archive", "reason": "too_general", "confirm": "1"}
    )
    assert all(_status(runtime, t) == "archived" for t in tickets)


def test_agency_operators_cannot_bulk_act(as_dpupr: Any, world: World, runtime: Any) -> None:
    response = as_dpupr.post(
        "/inbox/bulk",
        data={"t": [world.dpupr_ticket], "action": "archive", "reason": "other", "confirm": "1"},
    )
    assert response.status_code == 403
    assert _status(runtime, world.dpupr_ticket) == "dispatched"


def test_unknown_or_invisible_numbers_are_ignored(as_coordinator: Any, world: World, runtime: Any) -> None:
    response = as_coordinator.get(
        "/inbox/bulk", query_string={"t": ["00000000", "<script>"], "action": "verify"}
    )
    assert response.status_code == 400


def test_the_list_offers_selection_and_the_shortcuts_script(as_coordinator: Any, world: World) -> None:
    page = as_coordinator.get("/inbox/tickets").get_data(as_text=True)
    assert 'form="bulk-form"' in page and 'id="bulk-form"' in page
    assert "inbox_keys.js" in page
    assert 'class="skip-link"' in page
