"""Stored photos are served for non-confidential tickets only."""

from __future__ import annotations

from typing import Any

from gateway.models import Contact, Message, Ticket

NAME_PUBLIC = "a" * 32 + ".png"
NAME_SECRET = "b" * 32 + ".png"


def _ticket_with_photo(runtime: Any, tracking: str, privacy: str, name: str) -> None:
    runtime.settings.media_dir.mkdir(parents=True, exist_ok=True)
    (runtime.settings.media_dir / name).write_bytes(b"\x89PNG photo")
    with runtime.db.session() as session:
        contact = Contact(display_name="Warga")
        session.add(contact)
        session.flush()
        ticket = Ticket(tracking=tracking, contact_id=contact.id, privacy=privacy, description="Jalan rusak")
        session.add(ticket)
        session.flush()
        session.add(
            Message(
                direction="in",
                channel="sms",
                address="tel:+6281200000001",
                contact_id=contact.id,
                ticket_id=ticket.id,
                kind="image",
                attachments=[{"kind": "image", "stored_path": name}],
            )
        )


def test_photo_of_public_ticket_is_served(client: Any, runtime: Any) -> None:
    _ticket_with_photo(runtime, "12345674", "anonymous", NAME_PUBLIC)
    res = client.get(f"/media/{NAME_PUBLIC}")
    assert res.status_code == 200
    assert res.data == b"\x89PNG photo"


def test_photo_of_confidential_ticket_is_not_served(client: Any, runtime: Any) -> None:
    _ticket_with_photo(runtime, "12345681", "confidential", NAME_SECRET)
    assert client.get(f"/media/{NAME_SECRET}").status_code == 404


def test_unknown_or_odd_names_are_404(client: Any, runtime: Any) -> None:
    assert client.get("/media/" + "c" * 32 + ".png").status_code == 404
    assert client.get("/media/..%2Fsecret_key").status_code == 404
