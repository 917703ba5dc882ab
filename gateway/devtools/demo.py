"""Seeding: agencies from config/ always; demo operators and tickets on first start of `run`.

Demo passwords are generated on the spot and written to
LAPOR_DATA_DIR/demo-credentials.txt, never stored in the repository.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, select

from gateway.runtime import Runtime
from gateway.store.models import Agency, Operator
from gateway.tickets.seed import sync_agencies as seed_agencies
from gateway.web.inbox.passwords import hash_password


def sync_agencies(runtime: Runtime) -> None:
    """Make the agencies table match config/agencies.yaml (codes are the key)."""
    with runtime.db.session() as session:
        seed_agencies(session, runtime.catalog)


def prepare_database(seed_demo: bool) -> None:
    """Migrate the configured database to head and seed it (`seed`): `demo` and `run` start here."""
    from config.settings import load_settings
    from gateway.store.db import Database
    from gateway.store.migrate import upgrade

    settings = load_settings()
    upgrade(Database(settings.database_url))
    seed(Runtime(settings), demo=seed_demo)


def seed(runtime: Runtime, demo: bool) -> None:
    sync_agencies(runtime)
    if not demo:
        return
    with runtime.db.session() as session:
        if session.scalar(select(func.count(Operator.id))):
            return
        coordinator = session.scalar(select(Agency).where(Agency.is_coordinator.is_(True)))
        public_works = session.scalar(select(Agency).where(Agency.code == "dpupr"))
        accounts = [
            ("admin@lapor.local", "Admin Demo", "admin", None),
            (
                "koordinator@lapor.local",
                "Koordinator Demo",
                "coordinator",
                coordinator.id if coordinator else None,
            ),
            ("dpupr@lapor.local", "Operator DPUPR", "agency", public_works.id if public_works else None),
        ]
        lines = ["# demo operator accounts created by `lapor-gateway run` (first start)"]
        for email, name, role, agency_id in accounts:
            password = secrets.token_urlsafe(12)
            session.add(
                Operator(
                    email=email,
                    name=name,
                    role=role,
                    agency_id=agency_id,
                    password_hash=hash_password(password),
                )
            )
            lines.append(f"{email}  {password}  ({role})")
    path = runtime.settings.data_dir / "demo-credentials.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    seed_demo_tickets(runtime)


# (description, category, place, steps): steps are (action, agency or note) pairs run in order.
DEMO_TICKETS: list[tuple[str, str, str, list[tuple[str, dict[str, Any]]]]] = [
    (
        "Jalan berlubang besar di depan SDN 3, bahaya untuk motor",
        "jalan",
        "Jl. Merdeka 10",
        [("dispose", {"agency": "dpupr"}), ("start", {}), ("resolve", {"note": "Lubang sudah ditambal."})],
    ),
    (
        "Sampah menumpuk di TPS pasar sudah seminggu",
        "sampah",
        "Pasar Sukamaju",
        [("dispose", {"agency": "dlh"}), ("start", {})],
    ),
    (
        "Lampu jalan mati sepanjang gang, gelap dan rawan",
        "penerangan",
        "Gg. Kenanga, Kel. Sukamaju",
        [("dispose", {"agency": "dpupr"})],
    ),
    (
        "Air PDAM keruh dan berbau sejak kemarin",
        "air",
        "Perum Griya Asri blok C",
        [
            ("dispose", {"agency": "pdam"}),
            ("start", {}),
            ("resolve", {"note": "Pipa dibersihkan, air jernih."}),
        ],
    ),
    ("Antrean KTP elektronik sangat lama, blangko kosong", "kependudukan", "Kantor Kecamatan Sukamaju", []),
    (
        "Parkir liar menutup trotoar depan minimarket",
        "parkir",
        "Jl. Sudirman 45",
        [("defer", {"note": "Mohon kirim foto dan jam kejadian."})],
    ),
]


def seed_demo_tickets(runtime: Runtime) -> None:
    """A few tickets in various states, so the inbox and the public page show something."""
    from gateway.messages.ingest import find_or_create_contact
    from gateway.store.models import Ticket
    from gateway.tickets.service import Actor, create_ticket, transition

    with runtime.db.session() as session:
        if session.scalar(select(func.count(Ticket.id))):
            return
        coordinator = session.scalar(select(Operator).where(Operator.role == "coordinator"))
        actor = Actor.for_operator(coordinator) if coordinator else Actor.system()
        for index, (text, category, place, steps) in enumerate(DEMO_TICKETS):
            address = f"tel:+62812000000{index:02d}"
            # Opted out, so no update is ever sent to these made-up numbers, even
            # when `demo` runs against a real aggregator.
            contact, _address = find_or_create_contact(session, address, "sms", f"Warga Demo {index + 1}")
            contact.opted_out = True
            ticket = create_ticket(
                session,
                runtime,
                contact=contact,
                description=text,
                category=category,
                location_text=place,
                privacy="anonymous",
                channel="sms",
                address=address,
                language="id",
                source="operator",
                actor=actor,
            )
            for action, args in steps:
                transition(session, runtime, ticket, action, actor, **args)
