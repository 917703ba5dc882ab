"""Inbox fixtures: operators of each role, tickets in two agencies, and a logged-in client per role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Agency, Contact, ContactAddress, Operator, Ticket
from gateway.web.inbox.passwords import hash_password

PASSWORD = "correct horse battery staple"
#: Hashed once: Argon2 is slow on purpose, and every test makes five operators.
PASSWORD_HASH = hash_password(PASSWORD)


@dataclass
class World:
    """Ids of what the tests act on."""

    admin: int
    coordinator: int
    dpupr: int  # an operator of Dinas PU
    dpupr2: int
    dlh: int  # an operator of Dinas Lingkungan Hidup
    dpupr_ticket: str  # dispatched to DPUPR, anonymous
    dlh_ticket: str  # dispatched to DLH
    unverified_ticket: str  # waiting for the coordinator
    public_ticket: str  # dispatched to DPUPR, public, reporter visible


def make_operator(session: Any, email: str, role: str, agency_code: str | None, name: str) -> Operator:
    agency = session.scalar(select(Agency).where(Agency.code == agency_code)) if agency_code else None
    row = Operator(
        email=email,
        name=name,
        role=role,
        agency_id=agency.id if agency else None,
        password_hash=PASSWORD_HASH,
    )
    session.add(row)
    session.flush()
    return row


def file_ticket(
    session: Any,
    runtime: Any,
    *,
    text: str,
    category: str,
    address: str | None = "whatsapp:+6281234567890",
    privacy: str = "anonymous",
    dispose_to: str | None = None,
    disposed_by: Any = None,
) -> Ticket:
    """A ticket, disposed to ``dispose_to`` by ``disposed_by`` (the system, unless a person is
    given: only a person's disposition verifies it, which public surfaces wait for)."""
    from gateway.tickets import service

    contact = None
    if address:
        existing = session.scalar(select(ContactAddress).where(ContactAddress.address == address))
        if existing is None:
            contact = Contact(display_name="Siti Warga")
            session.add(contact)
            session.flush()
            session.add(ContactAddress(contact_id=contact.id, address=address, channel="whatsapp"))
        else:
            contact = session.get(Contact, existing.contact_id)
    ticket = service.create_ticket(
        session,
        runtime,
        contact=contact,
        description=text,
        category=category,
        location_text="Jl. Merdeka 10, Kecamatan Tengah",
        privacy=privacy,
        privacy_chosen=True,
        channel="whatsapp" if address else None,
        address=address,
    )
    if dispose_to:
        actor = disposed_by or service.Actor.system()
        service.transition(session, runtime, ticket, "dispose", actor, agency=dispose_to)
    return ticket


@pytest.fixture
def world(runtime: Any) -> World:
    with runtime.db.session() as session:
        admin = make_operator(session, "admin@example.id", "admin", None, "Ani Admin")
        coordinator = make_operator(
            session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator"
        )
        dpupr = make_operator(session, "pu@example.id", "agency", "dpupr", "Putu PU")
        dpupr2 = make_operator(session, "pu2@example.id", "agency", "dpupr", "Pandu PU")
        dlh = make_operator(session, "dlh@example.id", "agency", "dlh", "Lina DLH")
        t1 = file_ticket(
            session,
            runtime,
            text="Jalan berlubang besar di depan sekolah",
            category="jalan",
            dispose_to="dpupr",
        )
        t2 = file_ticket(
            session,
            runtime,
            text="Sampah menumpuk di TPS pasar sudah seminggu",
            category="sampah",
            address="whatsapp:+6281300000001",
            dispose_to="dlh",
        )
        t3 = file_ticket(
            session,
            runtime,
            text="Lampu jalan mati di gang mawar",
            category="penerangan",
            address="whatsapp:+6281300000002",
        )
        t4 = file_ticket(
            session,
            runtime,
            text="Trotoar rusak dekat halte",
            category="jalan",
            address="whatsapp:+6281300000003",
            privacy="public",
            dispose_to="dpupr",
        )
        return World(
            admin=admin.id,
            coordinator=coordinator.id,
            dpupr=dpupr.id,
            dpupr2=dpupr2.id,
            dlh=dlh.id,
            dpupr_ticket=t1.tracking,
            dlh_ticket=t2.tracking,
            unverified_ticket=t3.tracking,
            public_ticket=t4.tracking,
        )


def login(client: Any, email: str, password: str = PASSWORD) -> Any:
    return client.post("/inbox/login", data={"email": email, "password": password})


@pytest.fixture
def as_admin(app: Any, world: World) -> Any:
    client = app.test_client()
    assert login(client, "admin@example.id").status_code == 302
    return client


@pytest.fixture
def as_coordinator(app: Any, world: World) -> Any:
    client = app.test_client()
    assert login(client, "koor@example.id").status_code == 302
    return client


@pytest.fixture
def as_dpupr(app: Any, world: World) -> Any:
    client = app.test_client()
    assert login(client, "pu@example.id").status_code == 302
    return client


@pytest.fixture
def as_dlh(app: Any, world: World) -> Any:
    client = app.test_client()
    assert login(client, "dlh@example.id").status_code == 302
    return client
