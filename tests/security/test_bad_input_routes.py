"""Bad values at every door (issue 14, "no 5xx on bad input"): each answers 4xx with a reason.

Run on SQLite and on PostgreSQL (TEST_DATABASE_URL): an id too large for an INTEGER
column overflows differently on each, and both must answer 404.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from adapters.sms.signature import body_signature
from gateway.store.models import Message, Ticket
from gateway.tickets import service
from gateway.web.api.auth import create_token
from tests.inbox import conftest as inbox
from tests.inbox.conftest import World, file_ticket

# The inbox's fixtures (operators of each role, tickets in two agencies), used here too.
world = inbox.world
as_admin = inbox.as_admin

TELEGRAM_SECRET = "telegram-secret"
HUGE = "99999999999999999999"  # past 2**64: overflows SQLite and PostgreSQL integers alike
BIG = "9999999999999999999"  # past 2**63
BAD_DAYS = ("9999-12-31", "0001-01-01", "2026-13-45", "soon")


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def _api_headers(runtime: Any) -> dict[str, str]:
    with runtime.db.session() as session:
        _row, token = create_token(session, "bad-input")
    return {"Authorization": f"Bearer {token}"}


def _reason(res: Any) -> str:
    body = res.get_json()
    assert body["error"]["code"], body
    return str(body["error"]["message"])


# --------------------------------------------------------------------------- JSON nested thousands deep
def test_vonage_json_nested_thousands_deep_is_a_400(client: Any) -> None:
    body = b'{"msisdn": "6281234567890", "messageId": "x1", "text": ' + _deep(100_000) + b', "sig": "0"}'
    res = client.post("/webhooks/sms", data=body, content_type="application/json")
    assert res.status_code == 400, res.data[:300]
    assert "nested" in _reason(res)


@pytest.mark.parametrize("depth", [70, 5000, 100_000])
def test_infobip_signed_json_nested_deep_is_a_400(settings: Any, depth: int) -> None:
    from gateway.app import create_app
    from gateway.runtime import Runtime

    env = {**settings.env, "SMS_PROFILE": "infobip"}
    runtime = Runtime(replace(settings, env=env))
    try:
        body = b'{"results": [{"messageId": "ib-1", "from": "6281234567890", "text": ' + _deep(depth) + b"}]}"
        res = (
            create_app(runtime=runtime)
            .test_client()
            .post(
                "/webhooks/sms",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Lapor-Signature": body_signature(body, env["SMS_SIGNATURE_SECRET"]),
                },
            )
        )
        assert res.status_code == 400, res.data[:300]
        assert "nested" in _reason(res)
    finally:
        runtime.close()


@pytest.mark.parametrize("action", ["status", "replies"])
def test_api_body_of_a_hundred_thousand_brackets_is_a_400(
    runtime: Any, client: Any, world: World, action: str
) -> None:
    res = client.post(
        f"/api/v1/tickets/{world.dpupr_ticket}/{action}",
        data=b"[" * 100_000,
        headers={**_api_headers(runtime), "Content-Type": "application/json"},
    )
    assert res.status_code == 400, res.data[:300]
    _reason(res)


# --------------------------------------------------------------------------- locations
def _telegram_location(update_id: int, location: Any) -> bytes:
    user = {"id": 5550001, "is_bot": False, "first_name": "Siti"}
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": user,
                "chat": {"id": 5550001, "first_name": "Siti", "type": "private"},
                "date": 1764650000,
                "location": location,
            },
        }
    ).encode()


@pytest.mark.parametrize(
    "location",
    [
        {"latitude": "abc", "longitude": 106.8},
        {"latitude": None, "longitude": 106.8},
        {"latitude": {"x": 1}, "longitude": 106.8},
        {"latitude": 91.0, "longitude": 106.8},
        {"latitude": -6.2, "longitude": 180.5},
        {"latitude": "NaN", "longitude": 106.8},
    ],
    ids=["text", "null", "object", "lat-over-90", "long-over-180", "nan"],
)
def test_telegram_location_that_is_not_a_place_is_ignored(
    client: Any, runtime: Any, location: dict[str, Any]
) -> None:
    """Answered 200 (Telegram would hold the chat's later updates back on an error), stored nowhere."""
    res = client.post(
        "/webhooks/telegram",
        data=_telegram_location(901, location),
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": "application/json"},
    )
    assert res.status_code == 200, res.data[:300]
    with runtime.db.session() as session:
        assert session.scalars(select(Message).where(Message.direction == "in")).all() == []


def test_telegram_location_in_range_is_kept(client: Any, runtime: Any) -> None:
    res = client.post(
        "/webhooks/telegram",
        data=_telegram_location(902, {"latitude": -6.2001, "longitude": 106.8166}),
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": "application/json"},
    )
    assert res.status_code == 200
    with runtime.db.session() as session:
        row = session.scalars(select(Message).where(Message.direction == "in")).one()
        assert row.location["latitude"] == -6.2001


@pytest.mark.parametrize("coords", [(91.0, 106.8), (-6.2, -181.0), ("nan", 106.8), ("inf", 1.0)])
def test_whatsapp_location_out_of_range_is_ignored(client: Any, runtime: Any, coords: Any) -> None:
    from adapters.whatsapp import WhatsAppCloudAdapter

    adapter = WhatsAppCloudAdapter.from_env(runtime.settings.env)
    req = adapter.simulate("+6281234567890", "", location=coords)
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200, res.data[:300]
    with runtime.db.session() as session:
        assert session.scalars(select(Message).where(Message.direction == "in")).all() == []


@pytest.mark.parametrize("coords", [(91.0, 106.8), (-6.2, 200.0), ("nan", 106.8), ("1e999", 1.0)])
def test_twilio_location_out_of_range_is_a_400(client: Any, runtime: Any, coords: Any) -> None:
    from adapters.twilio import TwilioAdapter

    adapter = TwilioAdapter.from_env(runtime.settings.env)
    req = adapter.simulate("whatsapp:+6281234567890", "", location=coords)  # signed as Twilio signs
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 400, res.data[:300]
    assert "Latitude" in _reason(res)


def test_inbox_thread_survives_stored_bad_coordinates(runtime: Any, world: World, as_admin: Any) -> None:
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == world.dpupr_ticket))
        session.add(
            Message(
                ticket_id=ticket.id,
                contact_id=ticket.contact_id,
                direction="in",
                channel="telegram",
                kind="location",
                author="citizen",
                address="telegram:5550001",
                text="",
                location={"latitude": "abc", "longitude": {"x": 1}},
            )
        )
        session.add(
            Message(
                ticket_id=ticket.id,
                contact_id=ticket.contact_id,
                direction="in",
                channel="telegram",
                kind="location",
                author="citizen",
                address="telegram:5550001",
                text="",
                location={"latitude": 1e308, "longitude": None},
            )
        )
    res = as_admin.get(f"/inbox/t/{world.dpupr_ticket}")
    assert res.status_code == 200, res.data[:300]
    assert b"openstreetmap" not in res.data


# --------------------------------------------------------------------------- dates out of range
@pytest.mark.parametrize("day", BAD_DAYS)
@pytest.mark.parametrize("field", ["since", "until"])
def test_dashboard_refuses_a_bad_date_and_says_so(as_admin: Any, field: str, day: str) -> None:
    res = as_admin.get(f"/inbox/dashboard?{field}={day}")
    assert res.status_code == 400, res.data[:300]
    assert day.encode() in res.data  # the error names what was typed, nothing silently ignored
    assert b"form-error" in res.data


@pytest.mark.parametrize("day", BAD_DAYS)
def test_audit_log_refuses_a_bad_date(as_admin: Any, day: str) -> None:
    res = as_admin.get(f"/inbox/admin/audit?since={day}")
    assert res.status_code == 400, res.data[:300]
    assert b"form-error" in res.data


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "2026-13-45", "9999-12-31T23:59:59-12:00"])
@pytest.mark.parametrize("field", ["since", "until"])
def test_api_stats_refuses_a_date_out_of_range(runtime: Any, client: Any, field: str, value: str) -> None:
    res = client.get(f"/api/v1/stats?{field}={value}", headers=_api_headers(runtime))
    assert res.status_code == 400, res.data[:300]
    assert field in _reason(res)


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "2026-13-45"])
@pytest.mark.parametrize("path", ["/api/v1/tickets", "/api/v1/messages"])
def test_api_since_out_of_range_is_a_400(runtime: Any, client: Any, path: str, value: str) -> None:
    res = client.get(f"{path}?since={value}", headers=_api_headers(runtime))
    assert res.status_code == 400, res.data[:300]
    _reason(res)


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "2026-13-45", "0001-01-01T00:00:00+14:00"])
@pytest.mark.parametrize("field", ["start_date", "end_date"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_refuses_a_date_out_of_range(client: Any, field: str, value: str, fmt: str) -> None:
    res = client.get(f"/open311/v2/requests.{fmt}?{field}={value}")
    assert res.status_code == 400, res.data[:300]
    if fmt == "json":
        assert field in res.get_json()[0]["description"]
    else:
        assert field in ET.fromstring(res.data).find("error/description").text  # noqa: S314


# --------------------------------------------------------------------------- ids past the integer column
@pytest.mark.parametrize(
    "path",
    [
        f"/inbox/media/{BIG}/0",
        f"/inbox/media/{HUGE}/0",
        f"/inbox/media/1/{HUGE}",
        f"/inbox/admin/operators/{HUGE}/password",
        f"/inbox/tickets/{HUGE}",
        f"/inbox/t/{HUGE}",
    ],
)
def test_inbox_id_past_the_integer_column_is_a_404(as_admin: Any, path: str) -> None:
    assert as_admin.get(path).status_code == 404


@pytest.mark.parametrize(
    "path", [f"/inbox/admin/operators/{HUGE}/active", f"/inbox/admin/canned/{BIG}/delete"]
)
def test_inbox_post_id_past_the_integer_column_is_a_404(as_admin: Any, path: str) -> None:
    assert as_admin.post(path).status_code == 404


@pytest.mark.parametrize("agency_id", [HUGE, "abc", "-1"])
def test_agency_form_with_an_id_past_the_column_is_a_404(as_admin: Any, agency_id: str) -> None:
    res = as_admin.post("/inbox/admin/agencies", data={"agency_id": agency_id, "name": "X", "active": "y"})
    assert res.status_code == 404


@pytest.mark.parametrize("query", [f"operator={HUGE}", "operator=²", f"page={HUGE}"])
def test_audit_filters_past_the_integer_column_do_not_fail(as_admin: Any, query: str) -> None:
    assert as_admin.get(f"/inbox/admin/audit?{query}").status_code in (200, 400)


@pytest.mark.parametrize(
    "path",
    [f"/api/v1/tickets/{HUGE}", f"/open311/v2/requests/{HUGE}.json", f"/lacak/{HUGE}"],
)
def test_public_and_api_ids_past_the_column_are_a_404(runtime: Any, client: Any, path: str) -> None:
    assert client.get(path, headers=_api_headers(runtime)).status_code == 404


def test_api_page_past_the_column_is_a_400(runtime: Any, client: Any) -> None:
    assert client.get(f"/api/v1/messages?before={HUGE}", headers=_api_headers(runtime)).status_code == 400
    assert client.get(f"/api/v1/tickets?page={HUGE}", headers=_api_headers(runtime)).status_code == 400


# --------------------------------------------------------------------------- login next
@pytest.mark.parametrize(
    "target",
    [
        "/inbox/t/1\r\nSet-Cookie: x=1",
        "/inbox/%0d%0aSet-Cookie:%20x=1",
        "/inbox/\nLocation: //evil.example",
    ],
)
def test_login_next_with_control_characters_goes_to_the_inbox_home(
    app: Any, world: World, target: str
) -> None:
    from urllib.parse import quote

    client = app.test_client()
    res = client.post(
        f"/inbox/login?next={quote(target, safe='')}",
        data={"email": "admin@example.id", "password": "correct horse battery staple"},
    )
    assert res.status_code == 302, res.data[:300]
    assert res.headers["Location"] == "/inbox/tickets"


def test_login_next_that_is_fine_is_followed(app: Any, world: World) -> None:
    client = app.test_client()
    res = client.post(
        "/inbox/login?next=/inbox/dashboard%3Fsince%3D2026-11-01",
        data={"email": "admin@example.id", "password": "correct horse battery staple"},
    )
    assert res.headers["Location"] == "/inbox/dashboard?since=2026-11-01"


# --------------------------------------------------------------------------- Open311 text and XML
def test_open311_description_with_control_characters_keeps_xml_well_formed(runtime: Any, client: Any) -> None:
    with runtime.db.session() as session:
        _row, key = create_token(session, "civic-app")
    form = {
        "api_key": key,
        "service_code": "jalan",
        "address_string": "Jl. Melati\x0b 12",
        "description": "Jalan\x01 berlubang\x1b[31m besar\x7f\x0c di depan pasar",
        "attribute[privacy]": "public",
    }
    res = client.post("/open311/v2/requests.json", data=form)
    assert res.status_code in (201, 400), res.data[:300]
    if res.status_code == 201:
        with runtime.db.session() as session:
            ticket = session.scalars(select(Ticket)).one()
            assert ticket.description == "Jalan berlubang[31m besar di depan pasar"
    listing = client.get("/open311/v2/requests.xml")
    assert listing.status_code == 200
    ET.fromstring(listing.data)  # noqa: S314 - our own answer, parsed to prove it well-formed


def test_open311_xml_is_well_formed_for_already_stored_control_characters(runtime: Any, client: Any) -> None:
    with runtime.db.session() as session:
        file_ticket(
            session,
            runtime,
            text="Lampu\x01 mati\x1f di gang\ufffe mawar",
            category="jalan",
            privacy="public",
            dispose_to="dpupr",
            disposed_by=service.Actor(kind="operator", id=None, role="coordinator", label="Koordinator"),
        )
    listing = client.get("/open311/v2/requests.xml")
    assert listing.status_code == 200
    root = ET.fromstring(listing.data)  # noqa: S314
    assert "Lampu mati di gang" in root.find("request/description").text


# --------------------------------------------------------------------------- the same holes nearby
@pytest.mark.parametrize("operator_id", [HUGE, "²", "٣"])
def test_assign_to_an_operator_id_that_is_no_id_is_refused(
    runtime: Any, world: World, as_admin: Any, operator_id: str
) -> None:
    res = as_admin.post(f"/inbox/t/{world.dpupr_ticket}/assign", data={"operator_id": operator_id})
    assert res.status_code in (302, 400, 404), res.data[:300]
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == world.dpupr_ticket))
        assert ticket.assigned_operator_id is None


@pytest.mark.parametrize("target", ["//[x", "http://[x/inbox", "/inbox/\r\nX: 1"])
def test_language_switch_and_login_survive_an_unparseable_next(app: Any, world: World, target: str) -> None:
    from urllib.parse import quote

    client = app.test_client()
    res = client.post(
        f"/inbox/login?next={quote(target, safe='')}",
        data={"email": "admin@example.id", "password": inbox.PASSWORD},
    )
    assert res.status_code == 302 and res.headers["Location"] == "/inbox/tickets"
    res = client.post("/inbox/language", data={"lang": "en", "next": target})
    assert res.status_code == 302 and res.headers["Location"] == "/inbox/tickets"


@pytest.mark.parametrize("page", ["²", HUGE])
def test_public_list_page_that_is_no_number_is_a_400(client: Any, page: str) -> None:
    assert client.get(f"/?page={page}").status_code == 400
