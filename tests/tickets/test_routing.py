"""No wrong door: routing tables over the shipped config and over area-split agencies."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conversations.routing import detect_area, route
from gateway.catalog import Catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(env={})


@pytest.mark.parametrize(
    ("category", "area", "agency", "certain"),
    [
        ("jalan", None, "dpupr", True),
        ("drainase", "Kecamatan Mana Saja", "dpupr", True),
        ("sampah", None, "dlh", True),
        ("air", None, "pdam", True),
        ("lainnya", None, "diskominfo", False),
        (None, None, "diskominfo", False),
        ("", None, "diskominfo", False),
        ("ufo", None, "diskominfo", False),
    ],
)
def test_shipped_routing(
    catalog: Catalog, category: str | None, area: str | None, agency: str, certain: bool
) -> None:
    decision = route(category, area, catalog.agencies, catalog.categories)
    assert (decision.agency_code, decision.certain) == (agency, certain)
    assert decision.auto_dispatch is False  # nothing auto-dispatches in the shipped config
    assert decision.reason


@dataclass(frozen=True)
class A:
    code: str
    categories: tuple[str, ...]
    areas: tuple[str, ...] = ()
    coordinator: bool = False


@dataclass(frozen=True)
class C:
    code: str
    auto_dispatch: bool = False


AGENCIES = [
    A("kominfo", ("lainnya",), coordinator=True),
    A("upt-utara", ("sampah",), ("Kecamatan Utara",)),
    A("upt-selatan", ("sampah",), ("Kecamatan Selatan",)),
    A("dlh", ("sampah", "taman")),
    A("dinkes", ("kesehatan",)),
    A("rsud", ("kesehatan",)),
    A("satpol-a", ("pkl",), ("Kecamatan Utara",)),
    A("satpol-b", ("pkl",), ("Kecamatan Utara",)),
    A("pasar", ("retribusi",), ("Kecamatan Utara",)),
]
CATEGORIES = [
    C("lainnya"),
    C("sampah", auto_dispatch=True),
    C("taman"),
    C("kesehatan"),
    C("pkl"),
    C("retribusi"),
    C("orphan"),
]


@pytest.mark.parametrize(
    ("category", "area", "agency", "certain", "reason_part"),
    [
        ("sampah", "Kecamatan Utara", "upt-utara", True, "area"),
        ("sampah", "kecamatan  SELATAN", "upt-selatan", True, "area"),
        ("sampah", "Kecamatan Timur", "dlh", True, "sampah"),  # no district office: the city office
        ("sampah", None, "kominfo", False, "names none"),  # split by area, area unknown
        ("taman", None, "dlh", True, "taman"),
        ("kesehatan", None, "kominfo", False, "several"),
        ("pkl", "Kecamatan Utara", "kominfo", False, "several"),
        ("retribusi", "Kecamatan Barat", "kominfo", False, "no agency handles"),
        ("orphan", None, "kominfo", False, "no agency handles"),
        ("lainnya", None, "kominfo", False, "coordinator"),
    ],
)
def test_area_split_routing(
    category: str, area: str | None, agency: str, certain: bool, reason_part: str
) -> None:
    decision = route(category, area, AGENCIES, CATEGORIES)
    assert (decision.agency_code, decision.certain) == (agency, certain)
    assert reason_part in decision.reason


def test_auto_dispatch_only_when_certain() -> None:
    assert route("sampah", "Kecamatan Utara", AGENCIES, CATEGORIES).auto_dispatch is True
    assert route("sampah", None, AGENCIES, CATEGORIES).auto_dispatch is False
    assert route("taman", None, AGENCIES, CATEGORIES).auto_dispatch is False


def test_without_a_marked_coordinator_the_first_agency_owns() -> None:
    decision = route(None, None, [A("first", ()), A("second", ("x",))], [C("x")])
    assert decision.agency_code == "first"


def test_no_agencies_is_a_config_error() -> None:
    with pytest.raises(ValueError):
        route("x", None, [], [C("x")])


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("Jl. Merdeka 5, Kecamatan Utara", "Kecamatan Utara"),
        ("depan pasar kec. utara", "Utara"),
        ("dekat Kecamatan Utara Baru", "Kecamatan Utara Baru"),
        ("Jl. Merdeka", None),
        (None, None),
        ("Kecamatan Utaraku", None),
    ],
)
def test_detect_area(text: str | None, area: str | None) -> None:
    assert detect_area(text, ["Kecamatan Utara", "Kecamatan Utara Baru", "Utara"]) == area
