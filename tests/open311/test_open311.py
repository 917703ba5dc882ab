"""Open311 GeoReport v2: a client lists services, files a request and reads it back, in JSON and XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Message, Ticket, TicketEvent
from gateway.web.api.auth import create_token
from tests.public.conftest import seed_tickets

BASE = "/open311/v2"


@pytest.fixture
def api_key(runtime: Any) -> str:
    with runtime.db.session() as session:
        _row, token = create_token(session, "civic-app")
    return token


def _form(key: str, **extra: str) -> dict[str, str]:
    form = {
        "api_key": key,
        "service_code": "jalan",
        "lat": "-6.2001",
        "long": "106.8166",
        "address_string": "Jl. Melati 12",
        "description": "Jalan berlubang besar, motor sering jatuh. HP saya 0812-3456-7890",
        "first_name": "Budi",
        "last_name": "Santoso",
        "phone": "0812-3456-7890",
    }
    form.update(extra)
    return form


def test_discovery_and_services(client: Any) -> None:
    discovery = client.get(f"{BASE}/discovery.json").get_json()
    assert discovery["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    services = client.get(f"{BASE}/services.json").get_json()
    codes = {s["service_code"] for s in services}
    assert {"jalan", "sampah", "lainnya"} <= codes
    jalan = next(s for s in services if s["service_code"] == "jalan")
    assert (
        jalan["service_name"] == "Jalan rusak" and jalan["metadata"] is True and jalan["type"] == "realtime"
    )
    xml = client.get(f"{BASE}/services.xml")
    assert xml.content_type.startswith("text/xml")
    root = ET.fromstring(xml.data)  # noqa: S314
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    definition = client.get(f"{BASE}/services/jalan.json").get_json()
    assert definition["attributes"][0]["code"] == "privacy"
    assert client.get(f"{BASE}/services/nope.json").status_code == 404


def test_create_and_read_back(runtime: Any, client: Any, api_key: str, drain: Any, providers: Any) -> None:
    created = client.post(f"{BASE}/requests.json", data=_form(api_key))
    assert created.status_code == 201, created.data
    request_id = created.get_json()[0]["service_request_id"]
    assert len(request_id) == 8

    # Until the coordinator verifies it, the request shows only its status and is not listed.
    one = client.get(f"{BASE}/requests/{request_id}.json").get_json()[0]
    assert set(one) == {"service_request_id", "status", "status_notes"} and one["status"] == "open"
    listed = client.get(f"{BASE}/requests.json?service_code=jalan&status=open").get_json()
    assert request_id not in {r["service_request_id"] for r in listed}
    disposed = client.post(
        f"/api/v1/tickets/{request_id}/status",
        json={"status": "dispatched", "agency": "dpupr"},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert disposed.status_code == 200, disposed.data

    one = client.get(f"{BASE}/requests/{request_id}.json").get_json()[0]
    assert one["service_request_id"] == request_id
    assert one["status"] == "open" and one["service_code"] == "jalan"
    assert one["agency_responsible"] == "Dinas Pekerjaan Umum dan Penataan Ruang"
    assert one["lat"] == -6.2 and one["long"] == 106.817  # about 100 m, not the reporter's door
    assert "0812" not in one["description"] and "Budi" not in str(one)
    xml = ET.fromstring(client.get(f"{BASE}/requests/{request_id}.xml").data)  # noqa: S314
    assert xml.tag == "service_requests" and xml.find("request/service_request_id").text == request_id
    listed = client.get(f"{BASE}/requests.json?service_code=jalan&status=open").get_json()
    assert request_id in {r["service_request_id"] for r in listed}

    # The ticket is a ticket like any other: routed, audited, and the citizen is told by SMS.
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == request_id))
        assert ticket.source == "open311" and ticket.status == "dispatched"
        assert ticket.agency.code == "dpupr" and ticket.privacy == "anonymous"
        assert ticket.channel == "sms" and ticket.address == "tel:+6281234567890"
        events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
        assert events[0].action == "created"
        notice = session.scalars(select(Message).where(Message.direction == "out")).all()
        assert any(request_id in m.text and m.channel == "sms" for m in notice)
    drain()
    assert any(request_id in str(r.body) for r in providers["sms"].requests)


def test_xml_create_and_privacy_choice(runtime: Any, client: Any, api_key: str) -> None:
    form = _form(api_key, **{"attribute[privacy]": "confidential"})
    del form["phone"]
    response = client.post(f"{BASE}/requests.xml", data=form)
    assert response.status_code == 201
    request_id = ET.fromstring(response.data).find("request/service_request_id").text  # noqa: S314
    one = client.get(f"{BASE}/requests/{request_id}.json").get_json()[0]
    assert set(one) == {"service_request_id", "status", "status_notes"}
    listed = client.get(f"{BASE}/requests.json").get_json()
    assert request_id not in {r["service_request_id"] for r in listed}


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"api_key": "lpr_wrong"}, 403),
        ({"api_key": ""}, 403),
        ({"service_code": "nope"}, 404),
        ({"service_code": ""}, 400),
        ({"lat": "north"}, 400),
        ({"lat": "91", "long": "0"}, 400),
        ({"lat": "", "long": "", "address_string": ""}, 400),
        ({"description": ""}, 400),
        ({"description": "x" * 4001}, 400),
        ({"phone": "12"}, 400),
        ({"email": "not-an-email"}, 400),
        ({"media_url": "javascript:alert(1)"}, 400),
        ({"attribute[privacy]": "secret"}, 400),
        ({"colour": "red"}, 400),
        ({"jurisdiction_id": "elsewhere.example"}, 404),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_create_requests(client: Any, api_key: str, change: dict[str, str], status: int) -> None:
    response = client.post(f"{BASE}/requests.json", data=_form(api_key, **change))
    assert response.status_code == status
    body = response.get_json()
    assert body[0]["code"] == status and body[0]["description"]


def test_errors_are_open311_shaped(client: Any) -> None:
    xml = client.get(f"{BASE}/requests/12345678.xml")
    assert xml.status_code == 404
    root = ET.fromstring(xml.data)  # noqa: S314
    assert root.tag == "errors" and root.find("error/code").text == "404"
    assert client.get(f"{BASE}/requests.json?foo=1").status_code == 400
    assert client.get(f"{BASE}/requests.json?start_date=yesterday").status_code == 400
    assert client.get(f"{BASE}/requests.json?status=maybe").status_code == 400
    assert client.get(f"{BASE}/requests.json?service_request_id=1,2").status_code == 400
    assert client.get(f"{BASE}/requests.yaml").status_code == 404
    assert client.get(f"{BASE}/nothing.json").get_json()[0]["code"] == 404
    assert client.delete(f"{BASE}/requests.json").status_code == 405
    oversized = client.post(f"{BASE}/requests.json", data={"description": "x" * 3_000_000})
    assert 400 <= oversized.status_code < 500


def test_list_hides_confidential_and_personal_data(runtime: Any, client: Any) -> None:
    seed_tickets(runtime)
    listed = client.get(
        f"{BASE}/requests.json?start_date=2026-10-01T00:00:00Z&end_date=2026-12-01T00:00:00Z"
    ).get_json()
    ids = {r["service_request_id"] for r in listed}
    assert "10000004" in ids and "10000036" not in ids
    text = str(listed)
    assert "0812" not in text and "Budi" not in text and "@example" not in text
    closed = client.get(
        f"{BASE}/requests.json?status=closed&start_date=2026-10-01T00:00:00Z&end_date=2026-12-01T00:00:00Z"
    ).get_json()
    assert {r["status"] for r in closed} == {"closed"}
