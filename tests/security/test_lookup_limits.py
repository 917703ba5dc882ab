"""Per-source limits on the tracking lookups and per-key limits on Open311 filing.

The check digit stops only nine typos in ten, so someone walking through numbers
would find tickets (a confidential one shows its status); `/lacak/<n>` and the
Open311 single lookups share one budget per client address. Open311 POST is
limited per API key. Limits come from settings (docs/operations.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.web.api.auth import create_token
from tests.public.conftest import seed_tickets

A = {"REMOTE_ADDR": "203.0.113.10"}
B = {"REMOTE_ADDR": "198.51.100.77"}
KNOWN = "10000004"  # a public ticket of the seeded data set


@pytest.fixture
def limited(settings: Any) -> Iterator[Any]:
    """The app with small limits, so the tests reach them in a few requests."""
    from gateway.app import create_app
    from gateway.devtools.demo import sync_agencies
    from gateway.runtime import Runtime

    env = {
        **settings.env,
        "LAPOR_LOOKUP_LIMIT_PER_ADDRESS": "3 per minute",
        "LAPOR_OPEN311_CREATE_LIMIT_PER_KEY": "2 per minute",
    }
    runtime = Runtime(dataclasses.replace(settings, env=env))
    sync_agencies(runtime)
    seed_tickets(runtime)
    yield create_app(runtime=runtime, WTF_CSRF_ENABLED=False)
    runtime.close()


def test_the_lookup_after_the_limit_gets_429_with_a_reason(limited: Any) -> None:
    client = limited.test_client()
    for _ in range(3):
        assert client.get(f"/lacak/{KNOWN}", environ_base=A).status_code == 200
    refused = client.get(f"/lacak/{KNOWN}", environ_base=A)
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Terlalu banyak" in page and "3 per 1 minute" in page
    english = client.get(f"/lacak/{KNOWN}?lang=en", environ_base=A).get_data(as_text=True)
    assert "Too many" in english
    # Someone else is not affected.
    assert client.get(f"/lacak/{KNOWN}", environ_base=B).status_code == 200


def test_typos_count_and_open311_lookups_share_the_budget(limited: Any) -> None:
    client = limited.test_client()
    assert client.get("/lacak/10000005", environ_base=A).status_code == 404  # wrong check digit
    assert client.get(f"/open311/v2/requests/{KNOWN}.json", environ_base=A).status_code == 200
    assert client.get(f"/lacak/{KNOWN}", environ_base=A).status_code == 200
    refused = client.get(f"/open311/v2/requests/{KNOWN}.json", environ_base=A)
    assert refused.status_code == 429
    assert refused.get_json() == [{"code": 429, "description": refused.get_json()[0]["description"]}]
    assert "too many lookups" in refused.get_json()[0]["description"]
    xml = client.get(f"/open311/v2/requests/{KNOWN}.xml", environ_base=A)
    assert xml.status_code == 429 and b"<errors>" in xml.data
    assert client.get(f"/open311/v2/requests/{KNOWN}.json", environ_base=B).status_code == 200


def _form(key: str) -> dict[str, str]:
    return {
        "api_key": key,
        "service_code": "jalan",
        "address_string": "Jl. Melati 12",
        "description": "Jalan berlubang besar di depan pasar",
    }


def test_open311_filing_is_limited_per_key(limited: Any) -> None:
    runtime = limited.extensions["lapor"]
    with runtime.db.session() as session:
        _row, first = create_token(session, "civic-app")
        _row, second = create_token(session, "other-app")
    client = limited.test_client()
    for _ in range(2):
        assert client.post("/open311/v2/requests.json", data=_form(first), environ_base=A).status_code == 201
    # The same key from another address is still the same key.
    refused = client.post("/open311/v2/requests.json", data=_form(first), environ_base=B)
    assert refused.status_code == 429
    assert "too many requests for this api_key" in refused.get_json()[0]["description"]
    assert client.post("/open311/v2/requests.json", data=_form(second), environ_base=A).status_code == 201


def test_a_list_by_request_ids_costs_one_lookup_per_id(limited: Any) -> None:
    """Else a thousand guesses would fit in one list request."""
    client = limited.test_client()
    listing = f"/open311/v2/requests.json?service_request_id={KNOWN},10000012"
    assert client.get(listing, environ_base=A).status_code == 200  # two of the three
    refused = client.get(listing, environ_base=A)
    assert refused.status_code == 429 and "too many lookups" in refused.get_json()[0]["description"]
    # A list by date, service or status names no numbers and is not a lookup.
    for _ in range(4):
        assert client.get("/open311/v2/requests.json?status=open", environ_base=A).status_code == 200
    many = ",".join(["10000004"] * 4)
    too_many = client.get(f"/open311/v2/requests.json?service_request_id={many}", environ_base=B)
    assert too_many.status_code == 429
