"""Reading a complaint: category keywords (with SMS shorthand) and place phrases."""

from __future__ import annotations

import pytest

from conversations.categorize import category_from_answer, extract_location, infer_category, tokens
from tests.catalogue import catalogue_config

CONFIG = catalogue_config()


def test_shorthand_is_expanded_from_config() -> None:
    assert tokens("jln rsk dpn sklh", CONFIG.shorthand) == ["jalan", "rusak", "depan", "sekolah"]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("jln rsk parah", "jalan"),
        ("lampu jalan mati sejak kemarin", "penerangan"),  # the longer phrase beats "jalan"
        ("banjir di jalan", "drainase"),  # a tie goes to what is named first
        ("smph numpuk", "sampah"),
        ("pdam mati 3 hari", "air"),
        ("Pothole near the school gate", "jalan"),
        ("pelayanan lambat sekali", None),
        # "jalan" in the address no longer makes it a road complaint.
        ("Banyak PKL jualan di trotoar jalan Merdeka", "pkl"),
        ("Spanduk liar di jalan Diponegoro", "reklame"),
    ],
)
def test_category_is_inferred_from_keywords(text: str, category: str | None) -> None:
    assert infer_category(CONFIG, text) == category


def test_a_typed_category_answer_may_be_a_code_a_name_or_a_keyword() -> None:
    assert category_from_answer(CONFIG, "drainase", "id") == "drainase"
    assert category_from_answer(CONFIG, "Air bersih", "id") == "air"
    assert category_from_answer(CONFIG, "Street lighting", "en") == "penerangan"
    assert category_from_answer(CONFIG, "ada pungli di sekolah", "id") == "pendidikan"
    assert category_from_answer(CONFIG, "entahlah", "id") is None


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (
            "Sampah menumpuk di Jl. Merdeka No. 5, Kel. Sukajadi. Sudah seminggu.",
            "Jl. Merdeka No. 5, Kel. Sukajadi",
        ),
        ("Lampu penerangan jalan di Gang Mawar mati semua", "Gang Mawar"),
        ("air pdam mati rt 03 rw 05", "rt 03 rw 05"),
        ("Puskesmas tutup di kec. Cibeunying", "kec. Cibeunying"),
        ("Jalan rusak dpn pasar Kosambi sejak lama", "pasar Kosambi"),
        ("Banjir di jalan sudah 2 hari", None),  # "jalan" with no name is not a place
        ("Masih gelap di gang kami", None),
        ("Pelayanan lambat", None),
    ],
)
def test_a_place_phrase_is_found_in_a_description(text: str, place: str | None) -> None:
    assert extract_location(CONFIG, text) == place
