"""Merging two contacts that are one citizen: admin and coordinator only, audited, nothing lost.

Two tickets filed from two addresses the gateway could not link on its own (a WhatsApp
business-scoped id and an SMS number): the coordinator merges their reporters from the
ticket page, and the citizen's later message on either address reaches one conversation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.store.models import AuditEntry, Contact, ContactAddress, Message, Ticket
from tests.gateway.test_conversation_e2e import Citizen
from tests.inbox.conftest import World

OTHER = "whatsapp:+6281300000001"  # the world's DLH ticket's reporter


def _contact_of(runtime: Any, tracking: str) -> int | None:
    with runtime.db.session() as session:
        return session.scalar(select(Ticket.contact_id).where(Ticket.tracking == tracking))


def test_coordinator_merges_two_reporters_into_one(
    as_coordinator: Any, world: World, runtime: Any, client: Any, drain: Any
) -> None:
    keep, gone = _contact_of(runtime, world.dpupr_ticket), _contact_of(runtime, world.dlh_ticket)
    assert keep is not None and gone is not None and keep != gone
    response = as_coordinator.post(
        f"/inbox/t/{world.dpupr_ticket}/merge-contact", data={"other": world.dlh_ticket}
    )
    assert response.status_code == 302
    assert _contact_of(runtime, world.dlh_ticket) == keep
    with runtime.db.session() as session:
        assert session.get(Contact, gone) is None
        owners = set(session.scalars(select(ContactAddress.contact_id)))
        assert keep in owners and gone not in owners
        assert (
            session.scalar(select(ContactAddress.contact_id).where(ContactAddress.address == OTHER)) == keep
        )
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.merge")).one()
        assert entry.operator_id == world.coordinator
        assert str(gone) in (entry.detail or "") and "628" not in (entry.detail or "")  # no phone number
    # The citizen writes from the merged address: one conversation, their tickets known.
    citizen = Citizen(client, runtime, drain, "whatsapp", "+6281300000001")
    with runtime.db.session() as session:
        citizen.seen = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "out")
        )
    assert "Terdisposisi" in citizen.says(f"STATUS {world.dpupr_ticket}")  # the kept contact's ticket
    with runtime.db.session() as session:
        inbound = session.scalars(select(Message).where(Message.direction == "in")).one()
        assert inbound.contact_id == keep


def test_agency_operator_cannot_merge(as_dpupr: Any, world: World, runtime: Any) -> None:
    before = (_contact_of(runtime, world.dpupr_ticket), _contact_of(runtime, world.public_ticket))
    response = as_dpupr.post(
        f"/inbox/t/{world.dpupr_ticket}/merge-contact", data={"other": world.public_ticket}
    )
    assert response.status_code == 403
    assert (_contact_of(runtime, world.dpupr_ticket), _contact_of(runtime, world.public_ticket)) == before
    with runtime.db.session() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "contact.merge")
            )
            == 0
        )


def test_merge_refuses_a_ticket_without_reporter_or_the_same_one(
    as_admin: Any, world: World, runtime: Any
) -> None:
    same = as_admin.post(f"/inbox/t/{world.dpupr_ticket}/merge-contact", data={"other": world.dpupr_ticket})
    assert same.status_code == 302
    unknown = as_admin.post(f"/inbox/t/{world.dpupr_ticket}/merge-contact", data={"other": "99999999"})
    assert unknown.status_code == 302
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 4
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "contact.merge")
            )
            == 0
        )


def test_the_merge_form_shows_only_to_those_who_may_merge(
    as_coordinator: Any, as_dpupr: Any, world: World
) -> None:
    page = as_coordinator.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert f"/inbox/t/{world.dpupr_ticket}/merge-contact" in page
    page = as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert "merge-contact" not in page
