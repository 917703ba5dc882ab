"""A view of the citizen from a ticket: their other tickets, messages on every channel, language, STOP.

Agency operators see it only where they may see the reporter (`visibility.reveals_reporter`)
and, in it, only tickets that reveal the same reporter to them: an anonymous
ticket of the same person must not be linked to their name.
"""

from __future__ import annotations

from typing import Any

from gateway.store.models import Contact, ContactAddress, Message, utcnow
from tests.inbox.conftest import World, file_ticket

CITIZEN = "whatsapp:+6281300000003"  # the reporter of world.public_ticket


def _more_of_the_same_citizen(runtime: Any) -> dict[str, str]:
    """Three more tickets of the public ticket's reporter and a Telegram message of theirs."""
    with runtime.db.session() as session:
        public_dpupr = file_ticket(
            session,
            runtime,
            text="Got mampet di jalan kenanga",
            category="jalan",
            address=CITIZEN,
            privacy="public",
            dispose_to="dpupr",
        )
        anonymous_dpupr = file_ticket(
            session,
            runtime,
            text="Pungli di loket parkir dinas",
            category="jalan",
            address=CITIZEN,
            dispose_to="dpupr",
        )
        public_dlh = file_ticket(
            session,
            runtime,
            text="Pembakaran sampah tiap malam",
            category="sampah",
            address=CITIZEN,
            privacy="public",
            dispose_to="dlh",
        )
        contact = session.get(Contact, public_dpupr.contact_id)
        assert contact is not None
        contact.language = "en"
        contact.opted_out = True
        session.add(ContactAddress(contact_id=contact.id, address="telegram:5550001", channel="telegram"))
        session.add(
            Message(
                direction="in",
                channel="telegram",
                address="telegram:5550001",
                contact_id=contact.id,
                text="Halo, ini saya lewat Telegram",
                created_at=utcnow(),
            )
        )
        return {
            "public_dpupr": public_dpupr.tracking,
            "anonymous_dpupr": anonymous_dpupr.tracking,
            "public_dlh": public_dlh.tracking,
        }


def test_coordinator_sees_all_of_the_citizen(as_coordinator: Any, world: World, runtime: Any) -> None:
    more = _more_of_the_same_citizen(runtime)
    page = as_coordinator.get(f"/inbox/t/{world.public_ticket}/citizen")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for tracking in more.values():
        assert f"#{tracking}" in text
    assert "Halo, ini saya lewat Telegram" in text
    assert "Telegram" in text and "WhatsApp" in text
    assert "data-opted-out" in text
    assert 'data-language="en"' in text


def test_agency_operator_sees_only_tickets_that_reveal_the_same_reporter(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    more = _more_of_the_same_citizen(runtime)
    page = as_dpupr.get(f"/inbox/t/{world.public_ticket}/citizen")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"#{more['public_dpupr']}" in text
    assert more["anonymous_dpupr"] not in text  # would tie the anonymous report to the name
    assert more["public_dlh"] not in text  # another agency's
    assert "Pungli" not in text and "Pembakaran" not in text
    assert "Halo, ini saya lewat Telegram" not in text  # a message of no ticket they may see


def test_agency_operator_cannot_reach_an_anonymous_reporter(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    assert as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}/citizen").status_code == 404
    thread = as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert "/citizen" not in thread


def test_another_agency_cannot_reach_it_at_all(as_dlh: Any, world: World) -> None:
    assert as_dlh.get(f"/inbox/t/{world.public_ticket}/citizen").status_code == 404


def test_the_thread_links_to_the_citizen_view(as_coordinator: Any, world: World) -> None:
    thread = as_coordinator.get(f"/inbox/t/{world.public_ticket}").get_data(as_text=True)
    assert f"/inbox/t/{world.public_ticket}/citizen" in thread
