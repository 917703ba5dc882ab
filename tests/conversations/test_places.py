"""Where, as codes: place phrases cut from citizens' sentences, matched to Kemendagri codes.

The table (tests/data/places_cases.yaml) holds real-looking complaints and the place each
names, checked against the tests' catalogue (tests/data/catalogue/areas.yaml, Kota Bandung's 30 kecamatan and
151 kelurahan).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conversations.categorize import extract_location
from conversations.places import AreaTable, match_area, names_an_area
from tests.catalogue import catalogue_config

CONFIG = catalogue_config()

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).resolve().parent.parent / "data" / "places_cases.yaml").read_text(encoding="utf-8")
)["cases"]
AREAS = CONFIG.areas  # the tests' catalogue (a copy of the shipped areas.yaml)


def _label(case: dict[str, Any]) -> str:
    return str(case.get("text") or case.get("answer"))[:50]


def test_the_table_is_big_enough_to_mean_something() -> None:
    assert len(CASES) >= 80
    assert sum(1 for c in CASES if c.get("kelurahan")) >= 30
    assert sum(1 for c in CASES if "text" in c and c.get("place") is None) >= 10


@pytest.mark.parametrize("case", [c for c in CASES if "text" in c], ids=_label)
def test_the_place_phrase_is_cut_from_the_sentence(case: dict[str, Any]) -> None:
    assert extract_location(CONFIG, case["text"]) == case["place"]


@pytest.mark.parametrize("case", CASES, ids=_label)
def test_the_place_is_matched_to_its_codes(case: dict[str, Any]) -> None:
    place = case["answer"] if "answer" in case else case["place"]
    found = match_area(place, AREAS)
    kelurahan = case.get("kelurahan")
    kecamatan = case.get("kecamatan") or (kelurahan.rsplit(".", 1)[0] if kelurahan else None)
    got = (found.kecamatan_code, found.kelurahan_code) if found else (None, None)
    assert got == (kecamatan, kelurahan)
    if kelurahan:
        assert found is not None
        village = AREAS.kelurahan_by_code(kelurahan)
        assert village is not None and found.kelurahan == village.name


def test_the_shipped_list_is_a_whole_city_with_wellformed_codes() -> None:
    assert AREAS.city == "Kota Bandung" and AREAS.code == "32.73"
    assert len(AREAS.kecamatan) == 30
    villages = [v for k in AREAS.kecamatan for v in k.kelurahan]
    assert len(villages) == 151
    for district in AREAS.kecamatan:
        assert district.code.startswith(AREAS.code + ".") and len(district.code) == 8
        for village in district.kelurahan:
            # A kota has kelurahan (1xxx), never desa (2xxx).
            assert village.code.startswith(district.code + ".1") and len(village.code) == 13
    assert len({v.code for v in villages}) == 151


def test_the_engine_reads_the_deployers_list() -> None:
    assert CONFIG.areas.kecamatan_by_code("32.73.18") is not None


# A small city of our own, for the rules the real list does not exercise.
TWO_SUKAMAJU = AreaTable.from_config(
    {
        "city": "Kota Uji",
        "code": "99.71",
        "kecamatan": [
            {
                "code": "99.71.01",
                "name": "Utara",
                "kelurahan": [
                    {"code": "99.71.01.1001", "name": "Sukamaju"},
                    {"code": "99.71.01.1002", "name": "Sukajaya"},
                    {"code": "99.71.01.1003", "name": "Sukaraya"},
                ],
            },
            {
                "code": "99.71.02",
                "name": "Selatan",
                "aliases": ["Kidul"],
                "kelurahan": [
                    {"code": "99.71.02.1001", "name": "Sukamaju"},
                    {"code": "99.71.02.2002", "name": "Pasir Angin", "aliases": ["Pasirangin Girang"]},
                ],
            },
        ],
    }
)


def _codes(text: str) -> tuple[str | None, str | None]:
    found = match_area(text, TWO_SUKAMAJU)
    return (found.kecamatan_code, found.kelurahan_code) if found else (None, None)


def test_a_kelurahan_name_in_two_kecamatan_needs_the_kecamatan() -> None:
    assert _codes("kel. sukamaju") == (None, None)
    assert _codes("kel. sukamaju, kec. selatan") == ("99.71.02", "99.71.02.1001")
    assert _codes("Sukamaju Utara") == ("99.71.01", "99.71.01.1001")
    assert _codes("sukamaju kidul") == ("99.71.02", "99.71.02.1001")  # an alias of the kecamatan


def test_a_typo_halfway_between_two_kelurahan_of_one_kecamatan_stays_at_the_kecamatan() -> None:
    assert _codes("kel sukajaya") == ("99.71.01", "99.71.01.1002")
    assert _codes("kel sukazaya") == ("99.71.01", None)  # one typo from both
    assert _codes("kel sukajaaya") == ("99.71.01", "99.71.01.1002")


def test_a_desa_and_an_alias_match_like_a_kelurahan() -> None:
    assert _codes("ds. pasir angin") == ("99.71.02", "99.71.02.2002")
    assert _codes("pasirangin girang") == ("99.71.02", "99.71.02.2002")


def test_the_score_says_how_close_the_spelling_was() -> None:
    exact = match_area("kel. Sukaluyu", AREAS)
    typo = match_area("kel. Sukaluyuu", AREAS)
    assert exact is not None and exact.score == 1.0
    assert typo is not None and 0.8 < typo.score < 1.0
    assert exact.as_data() == {
        "kecamatan": "Cibeunying Kaler",
        "kecamatan_code": "32.73.18",
        "kelurahan": "Sukaluyu",
        "kelurahan_code": "32.73.18.1002",
        "score": 1.0,
    }


def test_an_empty_list_matches_nothing() -> None:
    empty = AreaTable.from_config({"kecamatan": []})
    assert match_area("kel. Sukaluyu", empty) is None
    assert AreaTable.from_config(None) == AreaTable()
    assert not names_an_area("Sukaluyu", empty)


def test_the_office_is_told_from_the_place() -> None:
    assert names_an_area("Sukaluyu sejak pagi", AREAS)
    assert not names_an_area("saat mengurus KTP", AREAS)
    assert not names_an_area("kami di Sukaluyu", AREAS)
