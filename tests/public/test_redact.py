"""Personal data is removed from public texts in the shapes citizens actually write it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.privacy.redact import PLACEHOLDERS, initials, redact

#: The table of real-looking sentences: leaks that must go, ordinary text that must survive.
TABLE: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (Path(__file__).parent.parent / "data" / "redact_cases.yaml").read_text(encoding="utf-8")
)

CASES = [
    ("phone with dashes", "HP 0812-3456-7890 ya", "0812", PLACEHOLDERS["phone"]),
    ("phone international", "hubungi +62 812 3456 7890", "812", PLACEHOLDERS["phone"]),
    ("phone without plus", "WA 6281298765432", "6281298765432", PLACEHOLDERS["phone"]),
    ("phone glued", "telp:081234567890.", "081234567890", PLACEHOLDERS["phone"]),
    ("valid NIK", "NIK 3171010101900001 saya", "3171010101900001", PLACEHOLDERS["nik"]),
    ("NIK with spaces", "NIK 3171 0101 0190 0001", "0190", PLACEHOLDERS["nik"]),
    ("invalid NIK still removed", "no 9999999999999999", "9999999999999999", PLACEHOLDERS["phone"]),
    ("email", "kirim ke budi.s+lapor@mail.co.id", "budi.s", PLACEHOLDERS["email"]),
    ("nama saya lower case", "nama saya budi santoso, warga RT 3", "budi", PLACEHOLDERS["name"]),
    ("saya Name", "Saya Budi mau lapor", "Budi", PLACEHOLDERS["name"]),
    ("saya bernama", "perkenalkan saya bernama Siti Aminah dari RW 2", "Aminah", PLACEHOLDERS["name"]),
    ("nama colon", "nama: Andi Wijaya. jalan rusak", "Wijaya", PLACEHOLDERS["name"]),
]


@pytest.mark.parametrize(("label", "text", "gone", "placeholder"), CASES, ids=[c[0] for c in CASES])
def test_personal_data_is_removed(label: str, text: str, gone: str, placeholder: str) -> None:
    out = redact(text)
    assert gone not in out
    assert placeholder in out


def test_ordinary_words_after_saya_are_kept() -> None:
    text = "saya mau lapor jalan rusak, Saya Warga RT 03 sudah menunggu 3 bulan"
    assert redact(text) == text


def test_nama_jalan_is_not_a_name() -> None:
    text = "Nama jalannya Jl. Melati, lubang 2 meter"
    assert redact(text) == text


def test_known_names_are_removed_whole_and_in_parts() -> None:
    out = redact("Pak Joko dan Bu Widodo, keluarga Joko Widodo", names=["Joko Widodo"])
    assert "Joko" not in out and "Widodo" not in out
    assert out.count(PLACEHOLDERS["name"]) == 3


def test_short_numbers_stay() -> None:
    text = "lubang 2 meter di RT 03/RW 05 sejak 2024, jam 07.30"
    assert redact(text) == text


def test_initials() -> None:
    assert initials("budi santoso") == "B. S."
    assert initials(None) is None
    assert initials("   ") is None


def test_the_table_is_large_enough() -> None:
    assert len(TABLE["leaks"]) + len(TABLE["survives"]) >= 60


@pytest.mark.parametrize("case", TABLE["leaks"], ids=[c["text"][:40] for c in TABLE["leaks"]])
def test_leak_is_redacted(case: dict[str, Any]) -> None:
    out = redact(case["text"], case.get("names", []))
    for gone in case["gone"]:
        assert gone not in out, out
    for kept in case.get("keep", []):
        assert kept in out, out
    for kind in case.get("expect", []):
        assert PLACEHOLDERS[kind] in out, out


@pytest.mark.parametrize("case", TABLE["survives"], ids=[c["text"][:40] for c in TABLE["survives"]])
def test_ordinary_text_survives(case: dict[str, Any]) -> None:
    assert redact(case["text"], case.get("names", [])) == case["text"]


# Around an inserted number: words and punctuation, never digits (a digit next to it makes another number).
_AROUND = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz ABCRTWKMPNI.,:;-#/@()\n")), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(
    before=_AROUND,
    after=_AROUND,
    number=st.sampled_from(["0812-3456-7890", "0812_3456_7890", "3171 0101 0190 0001"]),
)
def test_an_inserted_number_never_survives_its_surroundings(before: str, after: str, number: str) -> None:
    out = redact(f"{before} {number} {after}")
    digits = re.sub(r"\D", "", out)
    assert "3456" not in digits and "0190" not in digits, out


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_is_redacted_without_error_and_twice_is_once(text: str) -> None:
    once = redact(text)
    assert isinstance(once, str)
    assert redact(once) == once
