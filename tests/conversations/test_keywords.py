"""Keyword recognition: case, punctuation, one typo, and the words that must not trigger."""

from __future__ import annotations

import pytest

from conversations.keywords import Command, edit_distance_at_most_one
from tests.catalogue import catalogue_config

CONFIG = catalogue_config()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", Command("stop")),
        ("stop.", Command("stop")),
        ("Stpo", Command("stop")),  # two letters swapped
        ("BERHENTI", Command("stop")),
        ("batl", Command("cancel")),  # a letter dropped
        ("BATAL!", Command("cancel")),
        ("Bantuan", Command("help")),
        ("bantuan?", Command("help")),
        ("MENU", Command("help")),
        ("MULAI", Command("optin")),
        ("/start", Command("optin")),
        ("/start@LaporKotaBot", Command("optin")),
        ("Halo!", Command("greeting")),
        ("LAPOR jalan rusak", Command("report", "jalan rusak")),
        ("lapr jalan rusak", Command("report", "jalan rusak")),
        ("LAPOR#jalan#Jl. X#lubang", Command("report", "#jalan#Jl. X#lubang")),
        ("LAPOR # Pasar # bau", Command("report", "#Pasar # bau")),
        ("BARU", Command("new")),
        ("BARU lampu mati", Command("new", "lampu mati")),
        ("STATUS 12345671", Command("status", "12345671")),
        ("cek #12345671", Command("status", "12345671")),
        ("STATUS", Command("status")),
        ("BAHASA EN", Command("language", "EN")),
        ("bahasa inggris", Command("language", "inggris")),
        ("KTC jalan rusak", Command("region", "jalan rusak")),
    ],
)
def test_commands_are_recognised(text: str, expected: Command) -> None:
    assert CONFIG.keywords.parse(text, region_keyword="KTC") == expected


@pytest.mark.parametrize(
    "text",
    [
        "stop kontak di pasar rusak",  # STOP only counts as the whole message
        "Batal nikah karena jalan rusak",
        "Bau sampah menyengat",  # "bau" is one edit from "baru" but an ordinary word
        "Batu besar menutup jalan",
        "Biru semua airnya",
        "Lapar, warung tutup",
        "cek jalan di depan rumah",  # "cek" without a number is ordinary text
        "bahasa guru kasar sekali",
        "KTCX jalan rusak",
        "Menunggu bantuan dari dinas",
    ],
)
def test_ordinary_sentences_are_not_commands(text: str) -> None:
    assert CONFIG.keywords.parse(text, region_keyword="KTC") is None


def test_edit_distance_one_counts_swaps_inserts_deletes_and_changes() -> None:
    assert edit_distance_at_most_one("batal", "btaal")
    assert edit_distance_at_most_one("batal", "bata")
    assert edit_distance_at_most_one("batal", "batall")
    assert edit_distance_at_most_one("batal", "betal")
    assert not edit_distance_at_most_one("batal", "tabal")
    assert not edit_distance_at_most_one("batal", "ba")


def test_language_names_in_both_languages() -> None:
    assert CONFIG.keywords.language_code("EN") == "en"
    assert CONFIG.keywords.language_code("Inggris") == "en"
    assert CONFIG.keywords.language_code("indonesia") == "id"
    assert CONFIG.keywords.language_code("klingon") is None
