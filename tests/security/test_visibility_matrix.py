"""Who sees which ticket, on every surface: one table, held against the real routes.

The rule is gateway/tickets/visibility.py; `test_the_rules_agree_with_the_table` holds
its predicates and their SQL twins to the table directly, the rest every surface.

Roles x ticket states x privacy levels x surfaces. Every ticket is routed to
DPUPR; each state is reached through the ticket service as in production (the
coordinator disposing, the system auto-dispatching, the agency starting...). The
expected answer comes from the rule in docs/operations.md (threat model), written
here once as `expected`, and every surface must agree with it:

* city-wide actors (admin, coordinator, unscoped token) see every ticket and its reporter;
* an agency (operator or scoped token) sees tickets *disposed* to it, and the reporter
  (address, provider message ids) of public ones only;
* the public sees verified, non-confidential tickets, never a reporter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Agency, Contact, ContactAddress, Message, Ticket, utcnow
from gateway.tickets import service, visibility
from gateway.web.api.auth import create_token
from tests.inbox.conftest import login, make_operator

PRIVACIES = ("public", "anonymous", "confidential")
#: Ticket states, each reached by real service calls (see `_bring_to`).
STATES = (
    "unverified",  # waiting for the coordinator, routed to DPUPR
    "deferred",  # the coordinator asked the citizen a question
    "auto_dispatched",  # disposed by the system (auto-dispatch category), nobody acted yet
    "auto_started",  # auto-dispatched, then the agency started it: verified by the agency
    "dispatched",  # disposed by the coordinator: verified
    "resolved",  # disposed by the coordinator, resolved by the agency
    "archived_unverified",  # archived by the coordinator before any disposition
    "archived_verified",  # disposed by the coordinator, archived later (a duplicate)
    "returned",  # disposed, then "bukan wewenang": back with the coordinator
)
AGENCY_VISIBLE = {"auto_dispatched", "auto_started", "dispatched", "resolved", "archived_verified"}
PUBLIC_VISIBLE = {"auto_started", "dispatched", "resolved", "archived_verified"}

ROLES = ("admin", "coordinator", "agency_own", "agency_other", "token_agency", "token_all", "public")
SURFACES = {
    "admin": ("inbox_ticket", "inbox_search", "inbox_export", "inbox_dashboard"),
    "coordinator": ("inbox_ticket", "inbox_search", "inbox_export", "inbox_dashboard"),
    "agency_own": ("inbox_ticket", "inbox_search", "inbox_export", "inbox_dashboard"),
    "agency_other": ("inbox_ticket", "inbox_search", "inbox_export", "inbox_dashboard"),
    "token_agency": ("api_ticket", "api_list", "api_messages", "api_stats"),
    "token_all": ("api_ticket", "api_list", "api_messages", "api_stats"),
    "public": ("open311_list", "open311_single", "public_page", "statistik"),
}


def expected(role: str, state: str, privacy: str) -> tuple[bool, bool]:
    """(sees the ticket, sees its reporter) by the rule; the whole test is this function vs the routes."""
    if role in ("admin", "coordinator", "token_all"):
        return True, True
    if role in ("agency_own", "token_agency"):
        sees = state in AGENCY_VISIBLE
        return sees, sees and privacy == "public"
    if role == "public":
        return state in PUBLIC_VISIBLE and privacy != "confidential", False
    return False, False  # another agency


@dataclass(frozen=True)
class Case:
    tracking: str
    state: str
    privacy: str
    marker: str  # a word only this ticket's text holds (letters only: redaction keeps it)
    phone: str  # the reporter's number, digits only
    wamid: str  # the provider message id of the citizen's message
    day: datetime  # the day it was created (one ticket per day, for the stats windows)


def _letters(n: int) -> str:
    return "".join(chr(ord("a") + int(d)) for d in f"{n:03d}")


def _bring_to(session: Any, runtime: Any, ticket: Ticket, state: str, actors: dict[str, Any]) -> None:
    coordinator, agency = actors["coordinator"], actors["agency"]
    run = service.transition
    if state == "deferred":
        run(session, runtime, ticket, "defer", coordinator, note="Di mana tepatnya?")
    elif state in ("auto_dispatched", "auto_started"):
        # Exactly what create_ticket does for an auto-dispatch category.
        run(session, runtime, ticket, "dispose", service.Actor.system("Disposisi otomatis"), agency="dpupr")
        if state == "auto_started":
            run(session, runtime, ticket, "start", agency)
    elif state in ("dispatched", "resolved", "archived_verified", "returned"):
        run(session, runtime, ticket, "dispose", coordinator, agency="dpupr")
        if state == "resolved":
            run(session, runtime, ticket, "resolve", agency, note="Sudah ditambal")
        elif state == "archived_verified":
            run(session, runtime, ticket, "archive", coordinator, reason="duplicate", duplicate_of="10000004")
        elif state == "returned":
            run(session, runtime, ticket, "not_our_authority", agency, note="Jalan provinsi")
    elif state == "archived_unverified":
        run(session, runtime, ticket, "archive", coordinator, reason="too_general")


@pytest.fixture
def matrix(runtime: Any) -> dict[str, Any]:
    """Every (state, privacy) ticket, the operators, and one token of each scope."""
    today = utcnow().replace(hour=3, minute=0, second=0, microsecond=0)
    cases: list[Case] = []
    with runtime.db.session() as session:
        ops = {
            "admin": make_operator(session, "admin@example.id", "admin", None, "Ani Admin"),
            "coordinator": make_operator(session, "koor@example.id", "coordinator", "diskominfo", "Kiki"),
            "agency_own": make_operator(session, "pu@example.id", "agency", "dpupr", "Putu PU"),
            "agency_other": make_operator(session, "dlh@example.id", "agency", "dlh", "Lina DLH"),
        }
        actors = {
            "coordinator": service.Actor.for_operator(ops["coordinator"]),
            "agency": service.Actor.for_operator(ops["agency_own"]),
        }
        dpupr = session.scalar(select(Agency).where(Agency.code == "dpupr"))
        assert dpupr is not None
        _row, token_agency = create_token(session, "sistem-pu", agency_id=dpupr.id)
        _row, token_all = create_token(session, "dasbor-kota")
        n = 0
        for state in STATES:
            for privacy in PRIVACIES:
                n += 1
                marker = f"penanda{_letters(n)}"
                phone = f"6281255500{n:03d}"
                address = f"whatsapp:+{phone}"
                contact = Contact(display_name=None)
                session.add(contact)
                session.flush()
                session.add(ContactAddress(contact_id=contact.id, address=address, channel="whatsapp"))
                wamid = f"wamid.HBgNNjI4MTI1NTUwM{_letters(n).upper()}FQIAERgS"
                message = Message(
                    direction="in",
                    channel="whatsapp",
                    provider_message_id=wamid,
                    contact_id=contact.id,
                    address=address,
                    text=f"Jalan berlubang {marker}",
                    location={"latitude": -6.2000001 - n / 1000, "longitude": 106.8166667},
                    author="citizen",
                )
                session.add(message)
                session.flush()
                ticket = service.create_ticket(
                    session,
                    runtime,
                    contact=contact,
                    description=f"Jalan berlubang besar {marker} depan sekolah",
                    category="jalan",
                    location_text="Jl. Merdeka, Kecamatan Tengah",
                    latitude=-6.2000001 - n / 1000,
                    longitude=106.8166667,
                    privacy=privacy,
                    privacy_chosen=True,
                    channel="whatsapp",
                    address=address,
                    message_ids=[message.id],
                )
                message.ticket_id = ticket.id
                _bring_to(session, runtime, ticket, state, actors)
                day = today - timedelta(days=n)
                ticket.created_at = day
                cases.append(Case(ticket.tracking, state, privacy, marker, phone, wamid, day))
    return {"cases": cases, "token_agency": token_agency, "token_all": token_all}


def _client(app: Any, role: str, matrix: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    client = app.test_client()
    emails = {
        "admin": "admin@example.id",
        "coordinator": "koor@example.id",
        "agency_own": "pu@example.id",
        "agency_other": "dlh@example.id",
    }
    if role in emails:
        assert login(client, emails[role]).status_code == 302
        return client, {}
    if role.startswith("token_"):
        return client, {"Authorization": f"Bearer {matrix[role]}"}
    return client, {}


def _observe(client: Any, headers: dict[str, str], surface: str, case: Case, cache: dict[str, str]) -> str:
    """The text a surface answers about ``case`` ('' when it answers that it has nothing)."""

    def search(url: str) -> str:
        """A search page echoes its query: a ticket counts as found only when its number is listed."""
        body = get(url)
        return body if case.tracking in body else ""

    def get(url: str, ok: tuple[int, ...] = (200,)) -> str:
        if url not in cache:
            res = client.get(url, headers=headers)
            assert res.status_code in (*ok, 404), (url, res.status_code)
            cache[url] = res.get_data(as_text=True) if res.status_code in ok else ""
        return cache[url]

    since = case.day.strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (case.day + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if surface == "inbox_ticket":
        return get(f"/inbox/t/{case.tracking}")
    if surface == "inbox_search":
        return search(f"/inbox/tickets?tab=all&q={case.marker}")
    if surface == "inbox_export":
        body = get("/inbox/tickets/export.csv?tab=all")
        return "\n".join(line for line in body.splitlines() if case.marker in line)
    if surface == "inbox_dashboard":
        day = (case.day + timedelta(hours=7)).date().isoformat()  # the local (WIB) date
        html = get(f"/inbox/dashboard?since={day}&until={day}")
        total = re.search(r'<div class="card-num">(\d+)</div>', html)
        assert total is not None
        return html + case.marker if int(total.group(1)) else ""
    if surface == "api_ticket":
        return get(f"/api/v1/tickets/{case.tracking}")
    if surface == "api_list":
        return get(f"/api/v1/tickets?q={case.marker}")
    if surface == "api_messages":
        items = json.loads(get("/api/v1/messages?limit=500"))["messages"]
        return json.dumps([m for m in items if case.marker in m["text"]])
    if surface == "api_stats":
        figures = json.loads(get(f"/api/v1/stats?since={since}&until={until}"))
        return json.dumps(figures) + case.marker if figures["total"] else ""
    if surface == "open311_list":
        start = (case.day - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return get(f"/open311/v2/requests.json?start_date={start}")
    if surface == "open311_single":
        return get(f"/open311/v2/requests/{case.tracking}.json")
    if surface == "public_page":
        return search(f"/?q={case.marker}")
    if surface == "statistik":
        return search(f"/statistik?q={case.marker}")
    raise AssertionError(surface)


@pytest.mark.parametrize(
    ("role", "surface"), [(role, surface) for role in ROLES for surface in SURFACES[role]]
)
def test_visibility_table(app: Any, matrix: dict[str, Any], role: str, surface: str) -> None:
    client, headers = _client(app, role, matrix)
    cache: dict[str, str] = {}
    wrong: list[str] = []
    for case in matrix["cases"]:
        sees, reveals = expected(role, case.state, case.privacy)
        body = _observe(client, headers, surface, case, cache)
        seen = case.marker in body
        revealed = case.phone in body or case.wamid in body
        if seen != sees:
            wrong.append(f"{case.state}/{case.privacy}: sees {seen}, expected {sees}")
        if surface not in ("api_stats", "inbox_dashboard") and seen and revealed != reveals:
            wrong.append(f"{case.state}/{case.privacy}: reporter revealed {revealed}, expected {reveals}")
    assert not wrong, f"{role} on {surface}:\n" + "\n".join(wrong)


def test_public_counts_keep_unverified_apart(app: Any, matrix: dict[str, Any]) -> None:
    """The public figures count every ticket, but attribute to an agency only verified ones."""
    from gateway.tickets.statistics import stats_for

    runtime = app.extensions["lapor"]
    cases = matrix["cases"]
    with runtime.db.session() as session:
        figures = stats_for(runtime, session, actor=service.Actor.public())
    assert figures["total"] == len(cases)
    by_agency = {row["code"]: row["total"] for row in figures["agencies"]}
    verified = sum(1 for c in cases if c.state in PUBLIC_VISIBLE)
    assert by_agency.get("dpupr") == verified
    # Returned tickets sit with the coordinator unverified: not attributed to it either.
    assert by_agency.get(None) == len(cases) - verified
    body = app.test_client().get("/statistik").get_data(as_text=True)
    assert "Belum terverifikasi" in body


def test_public_coordinates_and_media_are_coarse(app: Any, runtime: Any, matrix: dict[str, Any]) -> None:
    """Open311 shows coordinates rounded to about 100 m and no provider media URL."""
    case = next(c for c in matrix["cases"] if c.state == "dispatched" and c.privacy == "anonymous")
    twilio_media = "https://api.twilio.com/2010-04-01/Accounts/AC" + "1" * 32 + "/Messages/MM1/Media/ME1"
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == case.tracking))
        assert ticket is not None
        ticket.data = {**ticket.data, "attachments": [{"kind": "image", "url": twilio_media}]}
    item = app.test_client().get(f"/open311/v2/requests/{case.tracking}.json").get_json()[0]
    assert item["lat"] == round(item["lat"], 3) and item["long"] == 106.817
    assert item["media_url"] is None
    assert "AC" + "1" * 32 not in json.dumps(item)


def test_api_hides_exact_place_and_provider_ids_of_anonymous_from_agencies(
    app: Any, matrix: dict[str, Any]
) -> None:
    case = next(c for c in matrix["cases"] if c.state == "dispatched" and c.privacy == "anonymous")
    agency = {"Authorization": f"Bearer {matrix['token_agency']}"}
    body = app.test_client().get(f"/api/v1/tickets/{case.tracking}", headers=agency).get_json()
    assert body["location"]["latitude"] == round(body["location"]["latitude"], 3)
    assert body["location"]["longitude"] == 106.817
    inbound = [m for m in body["thread"] if m["direction"] == "in"]
    assert [m["provider_message_id"] for m in inbound] == [None]
    assert [m["location"]["longitude"] for m in inbound] == [106.817]
    city = {"Authorization": f"Bearer {matrix['token_all']}"}
    body = app.test_client().get(f"/api/v1/tickets/{case.tracking}", headers=city).get_json()
    assert body["location"]["longitude"] == 106.8166667  # the coordinator sees the exact pin
    inbound = [m for m in body["thread"] if m["direction"] == "in"]
    assert [m["provider_message_id"] for m in inbound] == [case.wamid]


def test_verification_is_recorded_by_people_only(runtime: Any, matrix: dict[str, Any]) -> None:
    by_state = {c.state: c.tracking for c in matrix["cases"] if c.privacy == "public"}  # one ticket per state
    with runtime.db.session() as session:
        verified = {
            state: session.scalar(select(Ticket.verified_at).where(Ticket.tracking == tracking)) is not None
            for state, tracking in by_state.items()
        }
    assert verified == {
        "unverified": False,
        "deferred": False,
        "auto_dispatched": False,
        "auto_started": True,
        "dispatched": True,
        "resolved": True,
        "archived_unverified": False,
        "archived_verified": True,
        "returned": False,
    }


def test_tracking_page_names_the_agency_only_once_verified(app: Any, matrix: dict[str, Any]) -> None:
    client = app.test_client()
    for case in matrix["cases"]:
        if case.privacy != "anonymous" or case.state not in ("unverified", "auto_dispatched", "dispatched"):
            continue
        html = client.get(f"/lacak/{case.tracking}").get_data(as_text=True)
        named = "Dinas Pekerjaan Umum" in html
        assert named == (case.state == "dispatched"), case.state
        assert named or "Belum terverifikasi" in html


def test_inbox_map_pin_is_coarse_for_an_agency_on_an_anonymous_ticket(
    app: Any, matrix: dict[str, Any]
) -> None:
    """The agency finds the place within about 100 m; the exact pin (often the reporter's home) is hidden."""
    anonymous = next(c for c in matrix["cases"] if c.state == "dispatched" and c.privacy == "anonymous")
    public = next(c for c in matrix["cases"] if c.state == "dispatched" and c.privacy == "public")
    agency, _ = _client(app, "agency_own", matrix)
    coordinator, _ = _client(app, "coordinator", matrix)
    html = agency.get(f"/inbox/t/{anonymous.tracking}").get_data(as_text=True)
    assert "mlon=106.817000" in html and "106.816667" not in html
    assert "106.816667" in agency.get(f"/inbox/t/{public.tracking}").get_data(as_text=True)
    assert "106.816667" in coordinator.get(f"/inbox/t/{anonymous.tracking}").get_data(as_text=True)


def test_the_agencys_reply_verifies_an_auto_dispatched_ticket(app: Any, matrix: dict[str, Any]) -> None:
    """Answering the citizen is the agency's first step too: from then on the ticket is public."""
    case = next(c for c in matrix["cases"] if c.state == "auto_dispatched" and c.privacy == "anonymous")
    client = app.test_client()
    assert f"#{case.tracking}" not in client.get(f"/?q={case.marker}").get_data(as_text=True)
    agency, _ = _client(app, "agency_own", matrix)
    response = agency.post(f"/inbox/t/{case.tracking}/reply", data={"text": "Tim kami segera ke lokasi."})
    assert response.status_code == 302
    assert f"#{case.tracking}" in client.get(f"/?q={case.marker}").get_data(as_text=True)
    item = client.get(f"/open311/v2/requests/{case.tracking}.json").get_json()[0]
    assert case.marker in item["description"]


def _actors(runtime: Any) -> dict[str, service.Actor]:
    """The actor each role of the table acts as, built as the inbox and the API build them."""
    from conversations import lifecycle as lc

    with runtime.db.session() as session:
        ids = {a.code: a.id for a in session.scalars(select(Agency))}
    return {
        "admin": service.Actor(kind="operator", id=None, role=lc.ADMIN),
        "coordinator": service.Actor(
            kind="operator", id=None, role=lc.COORDINATOR, agency_id=ids["diskominfo"]
        ),
        "agency_own": service.Actor(kind="operator", id=None, role=lc.AGENCY, agency_id=ids["dpupr"]),
        "agency_other": service.Actor(kind="operator", id=None, role=lc.AGENCY, agency_id=ids["dlh"]),
        "token_agency": service.Actor(kind="api", id=None, role=lc.API_AGENCY, agency_id=ids["dpupr"]),
        "token_all": service.Actor(kind="api", id=None, role=lc.API_ALL),
        "public": service.Actor.public(),
    }


@pytest.mark.parametrize("role", ROLES)
def test_the_rules_agree_with_the_table(runtime: Any, matrix: dict[str, Any], role: str) -> None:
    """`can_see` and `reveals_reporter`, and their SQL twins, give the table's answer for each ticket."""
    actor = _actors(runtime)[role]
    wrong: list[str] = []
    with runtime.db.session() as session:
        listed = set(
            session.scalars(visibility.visible_tickets_query(actor).with_only_columns(Ticket.tracking))
        )
        revealed = set(
            session.scalars(select(Ticket.tracking).where(visibility.reveals_reporter_clause(actor)))
        )
        public = set(session.scalars(select(Ticket.tracking).where(visibility.public_tickets_clause())))
        for case in matrix["cases"]:
            ticket = session.scalar(select(Ticket).where(Ticket.tracking == case.tracking))
            assert ticket is not None
            sees, reveals = expected(role, case.state, case.privacy)
            answers = {
                "can_see": visibility.can_see(actor, ticket),
                "visible_clause": case.tracking in listed,
                "reveals_reporter": visibility.reveals_reporter(actor, ticket) and sees,
                "reveals_reporter_clause": case.tracking in revealed and sees,
            }
            wanted = {"can_see": sees, "visible_clause": sees, "reveals_reporter": reveals}
            wanted["reveals_reporter_clause"] = reveals
            wrong += [f"{case.state}/{case.privacy}: {k} {v}" for k, v in answers.items() if v != wanted[k]]
            if role == "public":
                is_public = visibility.is_public(ticket)
                if is_public != sees or (case.tracking in public) != sees:
                    wrong.append(f"{case.state}/{case.privacy}: is_public {is_public}")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)
