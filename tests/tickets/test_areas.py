"""Where, as codes, on the ticket: the matched kecamatan/kelurahan is kept and routes to area offices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from conversations.routing import route
from gateway.store.models import Contact, Ticket
from gateway.tickets.service import change_category, create_ticket
from tests.catalogue import CATALOGUE
from tests.tickets.conftest import config_dir, load, operator_actor

CATALOGUE_AGENCIES = yaml.safe_load((CATALOGUE / "agencies.yaml").read_text(encoding="utf-8"))


def _file(runtime: Any, location_text: str | None, category: str = "sampah", **extra: Any) -> str:
    with runtime.db.session() as session:
        contact = Contact(display_name="Siti", language="id")
        session.add(contact)
        session.flush()
        ticket = create_ticket(
            session,
            runtime,
            contact=contact,
            description="Sampah menumpuk sudah seminggu tidak diangkut",
            category=category,
            location_text=location_text,
            channel="telegram",
            address="telegram:5550001",
            **extra,
        )
        return ticket.tracking


def test_the_matched_codes_are_kept_on_the_ticket(runtime: Any) -> None:
    tracking = _file(runtime, "Jl. Merdeka No. 5, Kel. Sukaluyuu")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.area == "Cibeunying Kaler"
        assert ticket.data["area"] == {
            "kecamatan": "Cibeunying Kaler",
            "kecamatan_code": "32.73.18",
            "kelurahan": "Sukaluyu",
            "kelurahan_code": "32.73.18.1002",
            "score": 0.88,
        }


def test_a_place_that_names_no_area_keeps_no_codes(runtime: Any) -> None:
    for text in ("Jl. Merdeka No. 5", None, "kel. Sukamanah Indah"):
        tracking = _file(runtime, text)
        with runtime.db.session() as session:
            ticket = load(session, tracking)
            assert "area" not in ticket.data
            assert ticket.area is None


def test_an_area_given_by_the_filer_is_not_overridden_by_the_text(runtime: Any) -> None:
    tracking = _file(runtime, "kel. Sukaluyu", area="Kecamatan Lain")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.area == "Kecamatan Lain"
        assert "area" not in ticket.data  # the codes are of another kecamatan: not kept


def _with_district_offices(tmp_path: Path) -> dict[str, Any]:
    """The shipped agencies plus two kecamatan offices that take rubbish in their kecamatan."""
    doc = dict(CATALOGUE_AGENCIES)
    doc["agencies"] = [
        *CATALOGUE_AGENCIES["agencies"],
        {"code": "kec-coblong", "name": "Kecamatan Coblong", "categories": ["sampah"], "areas": ["32.73.02"]},
        # A kelurahan code narrows an office to that kelurahan.
        {
            "code": "kel-cigadung",
            "name": "Kelurahan Cigadung",
            "categories": ["sampah"],
            "areas": ["32.73.18.1004"],
        },
    ]
    return doc


def test_a_kecamatan_office_listing_the_code_takes_its_kecamatan(tmp_path: Path, runtime_with: Any) -> None:
    runtime = runtime_with(
        LAPOR_CONFIG_DIR=str(config_dir(tmp_path, agencies=_with_district_offices(tmp_path)))
    )
    cases = {
        "Gg. Mawar RT 02, Kel. Dago": "kec-coblong",  # Dago is in Coblong
        "kec coblong": "kec-coblong",
        "kel. cigadung": "kel-cigadung",
        "kel. Sukaluyu": "dlh",  # Cibeunying Kaler has no office of its own: the city agency
    }
    for text, agency in cases.items():
        tracking = _file(runtime, text)
        with runtime.db.session() as session:
            ticket = load(session, tracking)
            assert ticket.agency.code == agency, text
            assert ticket.data["routing"]["certain"] is True
    # With offices split by area, a place naming no area is the coordinator's to dispose.
    with runtime.db.session() as session:
        ticket = load(session, _file(runtime, "Jl. Merdeka"))
        assert (ticket.agency.code, ticket.data["routing"]["certain"]) == ("diskominfo", False)


def test_rerouting_after_a_category_change_still_uses_the_codes(tmp_path: Path, runtime_with: Any) -> None:
    runtime = runtime_with(
        LAPOR_CONFIG_DIR=str(config_dir(tmp_path, agencies=_with_district_offices(tmp_path)))
    )
    tracking = _file(runtime, "kel. Dago", category="jalan")
    coordinator = operator_actor(runtime, "coordinator", "diskominfo")
    with runtime.db.session() as session:
        ticket = load(session, tracking)
        assert ticket.agency.code == "dpupr"
        change_category(session, runtime, ticket, coordinator, "sampah")
        assert ticket.agency.code == "kec-coblong"
    with runtime.db.session() as session:
        assert session.scalar(select(Ticket.area).where(Ticket.tracking == tracking)) == "Coblong"


def test_route_matches_an_agency_area_by_name_or_by_code() -> None:
    from tests.tickets.test_routing import CATEGORIES, A

    agencies = [
        A("kominfo", ("lainnya",), coordinator=True),
        A("upt-utara", ("sampah",), ("32.71.01",)),
        A("upt-selatan", ("sampah",), ("Kecamatan Selatan",)),
        A("dlh", ("sampah",)),
    ]
    assert (
        route("sampah", "Utara", agencies, CATEGORIES, ["32.71.01", "32.71.01.1003"]).agency_code
        == "upt-utara"
    )
    assert route("sampah", "Kecamatan Selatan", agencies, CATEGORIES).agency_code == "upt-selatan"
    assert route("sampah", "Barat", agencies, CATEGORIES, ["32.71.03"]).agency_code == "dlh"
    assert route("sampah", None, agencies, CATEGORIES).agency_code == "kominfo"  # split by area, none named
