"""A small, fixed data set whose published figures are worked out by hand in the tests.

Dates are November 2026 (and one in October), a stretch with no Indonesian
holidays, so working days are plain weekdays: Mon 2 Nov + 4 working days is
Fri 6 Nov, the 5-day follow-up deadline from Mon 2 Nov is Mon 9 Nov.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Agency, Contact, ContactAddress, Ticket, TicketEvent


# 09:00 WIB is 02:00 UTC.
def at(day: int, month: int = 11, hour: int = 2) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


CITIZEN_PHONE = "+6281234567890"
CITIZEN_NIK = "3171010101900001"
CITIZEN_EMAIL = "budi.santoso@example.com"
SECRET_TEXT = "RAHASIA pungli di loket 7"

SEED: list[dict[str, Any]] = [
    {
        "tracking": "10000004",
        "privacy": "public",
        "agency": "dpupr",
        "category": "jalan",
        "channel": "sms",
        "status": "resolved",
        "name": "Budi Santoso",
        "address": "tel:" + CITIZEN_PHONE,
        "description": (
            f"Nama saya Budi Santoso, HP 0812-3456-7890, NIK {CITIZEN_NIK}, email {CITIZEN_EMAIL}. "
            "Jalan berlubang besar di Jl. Melati depan SDN 3."
        ),
        "created": at(2),
        "dispatched": at(2, hour=5),
        "first_response": at(3),
        "resolved": at(6),
    },
    {
        "tracking": "10000012",
        "privacy": "anonymous",
        "agency": "dpupr",
        "category": "penerangan",
        "channel": "whatsapp",
        "status": "resolved",
        "name": "Siti Aminah",
        "address": "whatsapp:+6281298765432",
        "description": "Saya Siti, lampu jalan mati sebulan di Gang Mawar. WA saya 6281298765432 ya pak.",
        "created": at(2),
        "dispatched": at(2, hour=6),
        "first_response": at(4),
        "resolved": at(11),
    },
    {
        "tracking": "10000020",
        "privacy": "anonymous",
        "agency": "dlh",
        "category": "sampah",
        "channel": "telegram",
        "status": "in_progress",
        "name": "Andi",
        "address": "telegram:555000111",
        "description": "Sampah menumpuk di TPS pasar, bau sekali. Hubungi andi@example.org",
        "created": at(2),
        "dispatched": at(3),
        "first_response": at(5),
        "resolved": None,
    },
    {
        "tracking": "10000036",
        "privacy": "confidential",
        "agency": "dinkes",
        "category": "kesehatan",
        "channel": "sms",
        "status": "dispatched",
        "name": "Rahasia Orang",
        "address": "tel:+6285711112222",
        "description": SECRET_TEXT,
        "created": at(3),
        "dispatched": at(4),
        "first_response": None,
        "resolved": None,
    },
    {
        "tracking": "10000048",
        "privacy": "anonymous",
        "agency": None,
        "category": None,
        "channel": "whatsapp",
        "status": "unverified",
        "name": None,
        "address": "whatsapp:+6281377778888",
        "description": "Ada genangan air di perempatan, telp 0813-7777-8888",
        "created": at(4),
        "dispatched": None,
        "first_response": None,
        "resolved": None,
    },
    {
        "tracking": "10000057",
        "privacy": "public",
        "agency": "dishub",
        "category": "parkir",
        "channel": "telegram",
        "status": "archived",
        "name": "Joko",
        "address": "telegram:555000222",
        "description": "Parkir liar di trotoar Jl. Kenanga",
        "created": at(14, month=10),
        "dispatched": at(14, month=10, hour=5),
        "first_response": at(15, month=10),
        "resolved": None,
    },
]


def seed_tickets(runtime: Any) -> None:
    """Insert the data set (agencies come from the runtime fixture's sync)."""
    with runtime.db.session() as session:
        agencies = {a.code: a.id for a in session.scalars(select(Agency))}
        for row in SEED:
            contact = Contact(display_name=row["name"])
            session.add(contact)
            session.flush()
            session.add(ContactAddress(contact_id=contact.id, address=row["address"], channel=row["channel"]))
            ticket = Ticket(
                tracking=row["tracking"],
                contact_id=contact.id,
                status=row["status"],
                agency_id=agencies.get(row["agency"]) if row["agency"] else None,
                category=row["category"],
                description=row["description"],
                privacy=row["privacy"],
                privacy_chosen=True,
                channel=row["channel"],
                address=row["address"],
                created_at=row["created"],
                last_activity_at=row["created"],
                dispatched_at=row["dispatched"],
                # Every dispatched row was disposed by the coordinator, so it is verified.
                verified_at=row["dispatched"],
                first_response_at=row["first_response"],
                resolved_at=row["resolved"],
            )
            session.add(ticket)
            session.flush()
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    action="create",
                    to_status="unverified",
                    actor_type="system",
                    created_at=row["created"],
                )
            )
            if row["status"] != "unverified":
                session.add(
                    TicketEvent(
                        ticket_id=ticket.id,
                        action="transition",
                        from_status="unverified",
                        to_status=row["status"],
                        actor_type="operator",
                        note=f"catatan internal {row['address']}",
                        created_at=row["resolved"] or row["dispatched"] or row["created"],
                    )
                )


@pytest.fixture
def seeded(runtime: Any) -> Any:
    seed_tickets(runtime)
    return runtime
