"""Open311 and the city's area codes: address_id is the kelurahan's Kemendagri code, both ways."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Ticket
from gateway.web.api.auth import create_token

BASE = "/open311/v2"


@pytest.fixture
def api_key(runtime: Any) -> str:
    with runtime.db.session() as session:
        _row, token = create_token(session, "civic-app")
    return token


def _file(client: Any, key: str, **place: str) -> str:
    form = {
        "api_key": key,
        "service_code": "sampah",
        "description": "Sampah menumpuk di pinggir jalan, sudah seminggu tidak diangkut",
        **place,
    }
    created = client.post(f"{BASE}/requests.json", data=form)
    assert created.status_code == 201, created.data
    return str(created.get_json()[0]["service_request_id"])


def _dispose(client: Any, key: str, request_id: str) -> None:
    done = client.post(
        f"/api/v1/tickets/{request_id}/status",
        json={"status": "dispatched", "agency": "dlh"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert done.status_code == 200, done.data


def test_a_public_request_carries_its_kelurahan_code(client: Any, api_key: str) -> None:
    request_id = _file(client, api_key, address_string="Jl. Cigadung Raya 12, Kel. Cigadung")
    hidden = client.get(f"{BASE}/requests/{request_id}.json").get_json()[0]
    assert "address_id" not in hidden  # not public yet: status only
    _dispose(client, api_key, request_id)
    shown = client.get(f"{BASE}/requests/{request_id}.json").get_json()[0]
    assert shown["address"] == "Jl. Cigadung Raya 12, Kel. Cigadung"
    assert shown["address_id"] == "32.73.18.1004"


def test_a_place_without_a_kelurahan_has_no_address_id(client: Any, api_key: str) -> None:
    request_id = _file(client, api_key, address_string="Jl. Melati 12")
    _dispose(client, api_key, request_id)
    shown = client.get(f"{BASE}/requests/{request_id}.json").get_json()[0]
    assert shown["address_id"] is None


def test_a_posted_kelurahan_code_names_the_place(runtime: Any, client: Any, api_key: str) -> None:
    request_id = _file(client, api_key, address_id="32.73.02.1004")
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == request_id))
        assert ticket.location_text == "Kel. Dago, Kec. Coblong"
        assert ticket.data["area"]["kelurahan_code"] == "32.73.02.1004"
    _dispose(client, api_key, request_id)
    assert client.get(f"{BASE}/requests/{request_id}.json").get_json()[0]["address_id"] == "32.73.02.1004"
    # An address_id that is not one of our codes is kept as the client's reference, as before.
    other = _file(client, api_key, address_id="XYZ-1")
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == other))
        assert ticket.location_text == "address_id XYZ-1" and "area" not in ticket.data
