"""Likely duplicates (issue 20, part 1): the same place and similar words, both required."""

from __future__ import annotations

from conversations.duplicates import (
    Candidate,
    Place,
    Settings,
    closeness,
    distance_meters,
    rank,
    similarities,
    words,
)
from tests.catalogue import catalogue_config

HERE = Place("32.73.01.1002", -6.8700, 107.5900)
SETTINGS = Settings(distance_meters=300, min_similarity=0.3, max_candidates=2)
CONFIG = catalogue_config()


def test_words_leave_out_the_place_and_common_words_and_read_sms_shorthand() -> None:
    assert words(CONFIG, "Lmp jln mati di Gang Mawar sdh seminggu") == ["lampu", "jalan", "mati", "seminggu"]
    assert words(CONFIG, "sampah2 menumpuk") == ["sampah", "menumpuk"]


def test_similar_words_score_higher_than_shared_place_words() -> None:
    same, other = similarities(
        CONFIG,
        "Lampu jalan mati di gang mawar sudah seminggu",
        ["lampu jalan gang mawar mati, gelap", "jalan berlubang besar di gang mawar"],
    )
    assert same > 0.4 > 0.2 > other


def test_the_same_kelurahan_or_pins_within_the_distance_are_the_same_place() -> None:
    assert closeness(HERE, Place("32.73.01.1002"), SETTINGS) == 1.0
    near = Place(None, -6.8710, 107.5905)  # about 120 m away
    meters = distance_meters(HERE, near)
    assert meters is not None and 100 < meters < 140
    assert 0 < (closeness(HERE, near, SETTINGS) or 0) < 1
    assert closeness(HERE, Place(None, -6.90, 107.60), SETTINGS) is None  # kilometres away
    assert closeness(HERE, Place("32.73.01.1003"), SETTINGS) is None  # another kelurahan, no pins


def test_rank_needs_both_place_and_words_and_keeps_the_best() -> None:
    text = "Lampu jalan mati sudah seminggu, gelap"
    pool = [
        Candidate("11111111", "Lampu jalan mati, gelap sekali tiap malam", Place("32.73.01.1002")),
        Candidate("22222222", "Lampu jalan mati total sejak minggu lalu", Place(None, -6.8702, 107.5901)),
        Candidate(
            "33333333", "Lampu jalan mati, gelap sekali tiap malam", Place("32.73.05.1001")
        ),  # elsewhere
        Candidate("44444444", "Pohon tumbang menutup jalan", Place("32.73.01.1002")),  # other words
        Candidate("55555555", "Lampu jalan mati", Place("32.73.01.1002")),
    ]
    found = rank(CONFIG, text, HERE, pool, SETTINGS)
    assert len(found) == 2
    assert {key for key, _ in found} <= {"11111111", "22222222", "55555555"}
    assert found[0][1] >= found[1][1] and all(0 < score <= 1 for _, score in found)
    assert rank(CONFIG, text, HERE, [], SETTINGS) == []
