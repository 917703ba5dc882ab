"""Fixtures for ticket tests: the shared runtime, people to act as, and a ticket factory."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from config.settings import Settings, load_settings
from gateway.store.models import Agency, Contact, Operator, Ticket
from gateway.tickets.service import Actor, create_ticket
from tests.catalogue import deploy_folder


def agency_id(runtime: Any, code: str) -> int:
    with runtime.db.session() as session:
        found = session.scalar(select(Agency.id).where(Agency.code == code))
        assert found is not None, code
        return int(found)


def operator_actor(runtime: Any, role: str, agency_code: str | None) -> Actor:
    """A real operator row and the actor the inbox would build for it."""
    with runtime.db.session() as session:
        agency = session.scalar(select(Agency).where(Agency.code == agency_code)) if agency_code else None
        operator = Operator(
            email=f"{role}-{uuid.uuid4().hex[:8]}@contoh.go.id",
            name=f"{role.title()} {agency_code or ''}".strip(),
            password_hash="x",
            role=role,
            agency_id=agency.id if agency else None,
        )
        session.add(operator)
        session.flush()
        session.refresh(operator, ["agency"])
        return Actor.for_operator(operator)


@pytest.fixture
def coordinator(runtime: Any) -> Actor:
    return operator_actor(runtime, "coordinator", "diskominfo")


@pytest.fixture
def admin(runtime: Any) -> Actor:
    return operator_actor(runtime, "admin", None)


@pytest.fixture
def dpupr(runtime: Any) -> Actor:
    return operator_actor(runtime, "agency", "dpupr")


@pytest.fixture
def dlh(runtime: Any) -> Actor:
    return operator_actor(runtime, "agency", "dlh")


TicketFactory = Callable[..., str]


@pytest.fixture
def make_ticket(runtime: Any) -> TicketFactory:
    """File a ticket as the conversation would; returns its tracking number."""

    def make(**overrides: Any) -> str:
        with runtime.db.session() as session:
            contact = Contact(display_name="Siti", language=overrides.get("language", "id"))
            session.add(contact)
            session.flush()
            fields: dict[str, Any] = {
                "contact": contact,
                "description": "Jalan berlubang besar di depan pasar, sudah dua minggu",
                "category": "jalan",
                "location_text": "Jl. Merdeka No. 5",
                "latitude": -6.2,
                "longitude": 106.8,
                "privacy": None,
                "privacy_chosen": False,
                "channel": "telegram",
                "address": "telegram:5550001",
                "language": "id",
                "source": "message",
                "attachments": [],
                "message_ids": [],
            }
            fields.update(overrides)
            ticket = create_ticket(session, runtime, **fields)
            return ticket.tracking

    return make


def load(session: Any, tracking: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
    assert ticket is not None
    return ticket


def config_dir(
    tmp_path: Path,
    agencies: dict[str, Any] | None = None,
    categories: dict[str, Any] | None = None,
    holidays: dict[str, Any] | None = None,
) -> Path:
    """A deployer's LAPOR_CONFIG_DIR: the tests' catalogue with the files a test changes."""
    folder = deploy_folder(tmp_path)
    for name, doc in (
        ("agencies.yaml", agencies),
        ("categories.yaml", categories),
        ("holidays.yaml", holidays),
    ):
        if doc is not None:
            (folder / name).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.fixture
def runtime_with(settings: Settings) -> Iterator[Callable[..., Any]]:
    """Build a runtime over the shared test database with extra environment (a config dir, secrets)."""
    from gateway.runtime import Runtime
    from gateway.tickets.seed import sync_agencies

    built: list[Any] = []

    def build(**env: str) -> Any:
        runtime = Runtime(load_settings({**settings.env, **env}, testing=True))
        with runtime.db.session() as session:
            sync_agencies(session, runtime.catalog)
        built.append(runtime)
        return runtime

    yield build
    for runtime in built:
        runtime.close()
