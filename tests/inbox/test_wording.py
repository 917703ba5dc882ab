"""Words operators read: channels as citizens know them, the CSV in the operator's language,
"karakter" for lengths, no label said twice."""

from __future__ import annotations

import csv
import html
import io
from typing import Any

from gateway.tickets import service
from tests.inbox.conftest import World


def _twilio_sms_ticket(runtime: Any, address: str = "tel:+6285700001111") -> str:
    with runtime.db.session() as session:
        ticket = service.create_ticket(
            session,
            runtime,
            contact=None,
            description="Air PDAM mati sejak pagi di Perumahan Indah",
            category="lainnya",
            privacy="public",
            privacy_chosen=True,
            channel="twilio",
            address=address,
            source="message",
        )
        return ticket.tracking


def test_twilio_is_named_by_what_the_citizen_uses(as_coordinator: Any, world: World, runtime: Any) -> None:
    sms = _twilio_sms_ticket(runtime)
    wa = _twilio_sms_ticket(runtime, "whatsapp:+6285700002222")
    listing = as_coordinator.get("/inbox/tickets", query_string={"tab": "all"}).get_data(as_text=True)
    assert ">Twilio<" not in listing
    thread = as_coordinator.get(f"/inbox/t/{sms}").get_data(as_text=True)
    assert "<dd>SMS" in thread and "Twilio" not in thread.split('id="timeline"')[0]
    assert "<dd>WhatsApp" in as_coordinator.get(f"/inbox/t/{wa}").get_data(as_text=True)


def test_the_reporters_number_is_shown_once(as_coordinator: Any, world: World, runtime: Any) -> None:
    tracking = _twilio_sms_ticket(runtime)
    thread = as_coordinator.get(f"/inbox/t/{tracking}").get_data(as_text=True)
    facts = thread.split('<dl class="facts">')[1].split("</dl>")[0]
    assert facts.count("+6285700001111") == 1


def _csv(client: Any) -> list[dict[str, str]]:
    body = client.get("/inbox/tickets/export.csv", query_string={"tab": "all"}).get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))


def test_the_csv_privacy_column_is_in_the_operators_language(as_coordinator: Any, world: World) -> None:
    rows = _csv(as_coordinator)
    privacy_column = next(k for k in rows[0] if k.lower().startswith("privas"))
    assert {r[privacy_column] for r in rows} <= {"Biasa", "Anonim", "Rahasia"}
    as_coordinator.post("/inbox/language", data={"lang": "en", "next": "/inbox/tickets"})
    rows = _csv(as_coordinator)
    privacy_column = next(k for k in rows[0] if k.lower().startswith("privacy"))
    assert "anonymous" not in {r[privacy_column] for r in rows}
    assert {r[privacy_column] for r in rows} & {"Anonymous", "Public", "Normal", "Regular"}


def test_the_citizen_is_named_in_english_in_english(as_coordinator: Any, world: World, runtime: Any) -> None:
    with runtime.db.session() as session:
        ticket = service.find_ticket(session, service.Actor.system(), world.unverified_ticket)
        assert ticket is not None
        coordinator = service.Actor(kind="operator", id=world.coordinator, role="coordinator", label="Kiki")
        service.transition(session, runtime, ticket, "defer", coordinator, note="Di mana?")
        service.transition(session, runtime, ticket, "answer", service.Actor.citizen(ticket.contact_id))
    as_coordinator.post("/inbox/language", data={"lang": "en", "next": "/inbox/tickets"})
    page = as_coordinator.get(f"/inbox/t/{world.unverified_ticket}").get_data(as_text=True)
    assert ">Reporter<" in page and ">Pelapor<" not in page


def test_lengths_are_in_karakter_and_the_field_is_named_once(as_coordinator: Any, world: World) -> None:
    page = html.unescape(
        as_coordinator.post(f"/inbox/t/{world.dpupr_ticket}/note", data={"text": "x" * 5000}).get_data(
            as_text=True
        )
    )
    assert "maksimal 4096 karakter" in page and "huruf" not in page
    assert "Teks: Teks" not in page
