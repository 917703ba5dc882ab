"""No wrong door: routing tables over the tests' catalogue and over area-split agencies."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conversations.routing import detect_area, route
from gateway.tickets.catalog import Catalog
from tests.catalogue import catalogue_config


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return catalogue_config().catalog


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
    assert decision.auto_dispatch is False  # nothing auto-dispatches in the tests' catalogue
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


# --------------------------------------------------------------------------- evidence and threshold
def test_bodies_outside_regional_authority_are_never_dispatched_by_the_router(catalog: Catalog) -> None:
    for category, body in [("listrik", "pln"), ("pertanahan", "bpn"), ("jalan_nasional", "bbpjn")]:
        decision = route(category, None, catalog.agencies, catalog.categories)
        assert (decision.agency_code, decision.certain) == ("diskominfo", False)
        assert "outside regional authority" in decision.reason and body in decision.reason


def test_the_shipped_catalogue_names_every_external_body_with_a_contact() -> None:
    catalog = Catalog.load(env={})  # about config/ itself, not the tests' catalogue
    external = {a.code: a for a in catalog.agencies if a.external}
    assert set(external) >= {"pln", "bpn", "imigrasi", "polri", "bpjs", "bbpjn", "dpu_provinsi"}
    assert all(a.contact for a in external.values())
    codes = {c.code for c in catalog.categories}
    assert "lainnya" in codes
    assert all(set(a.categories) <= codes for a in catalog.agencies)


def test_a_sure_complaint_is_routed_and_an_unsure_one_goes_to_the_coordinator_with_suggestions(
    catalog: Catalog,
) -> None:
    from conversations.routing import recommend
    from conversations.routing_score import score

    sure = recommend(
        score(catalogue_config(), "PKL jualan di trotoar, lapak pedagang menutup trotoar"),
        None,
        catalog.agencies,
        catalog.categories,
        0.45,
    )
    assert sure.routed and sure.decision.agency_code == "satpolpp"
    unsure = recommend(
        score(catalogue_config(), "ada lubang depan sekolah"),
        None,
        catalog.agencies,
        catalog.categories,
        0.45,
    )
    assert not unsure.routed and unsure.decision.agency_code == "diskominfo"
    assert [s["agency"] for s in unsure.suggestions][:2] in (["dpupr", "disdik"], ["disdik", "dpupr"])
    assert all(0 < s["confidence"] < 0.45 and s["words"] for s in unsure.suggestions)
    referral = recommend(
        score(catalogue_config(), "listrik PLN padam tiap malam, tegangan drop"),
        None,
        catalog.agencies,
        catalog.categories,
        0.45,
    )
    assert (
        not referral.routed
        and referral.suggestions[0]["agency"] == "pln"
        and referral.suggestions[0]["external"]
    )


def test_evidence_for_two_categories_of_one_agency_adds_up_instead_of_competing(catalog: Catalog) -> None:
    """Street vendors and public order are both Satpol PP's: a hint of one must not make the
    other look doubtful, and the coordinator sees agencies, each once."""
    from conversations.routing import recommend
    from conversations.routing_score import score

    advice = recommend(
        score(catalogue_config(), "PKL di sepanjang trotoar tidak tertib dan resahkan warga"),
        None,
        catalog.agencies,
        catalog.categories,
        0.45,
    )
    assert advice.routed and advice.decision.agency_code == "satpolpp", advice.suggestions
    assert advice.category == "pkl"
    waste = recommend(
        score(catalogue_config(), "TPS liar, pembakaran sampah menimbulkan asap pekat"),
        None,
        catalog.agencies,
        catalog.categories,
        0.45,
    )
    agencies = [s["agency"] for s in waste.suggestions]
    assert agencies[0] == "dlh" and len(agencies) == len(set(agencies))
    assert {"tps", "asap pekat"} <= set(waste.suggestions[0]["words"])
