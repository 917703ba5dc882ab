"""Segment counting and the reply cap: GSM-7 vs UCS-2 boundaries, extension characters, emoji."""

from __future__ import annotations

import pytest

from adapters.sms.segments import (
    GSM7,
    UCS2,
    char_units,
    encoding_of,
    fit_segments,
    is_gsm7,
    split_segments,
    text_units,
)

EURO = "€"  # a GSM extension character: two septets
EMOJI = "😀"  # outside the BMP: two UTF-16 code units

SPLIT_CASES: list[tuple[str, str, str, int]] = [
    ("empty", "", GSM7, 1),
    ("160 GSM-7 fit one", "a" * 160, GSM7, 1),
    ("161 GSM-7 need two", "a" * 161, GSM7, 2),
    ("306 GSM-7 fit two parts of 153", "a" * 306, GSM7, 2),
    ("307 GSM-7 need three", "a" * 307, GSM7, 3),
    ("80 euro signs are 160 septets", EURO * 80, GSM7, 1),
    ("81 euro signs are 162 septets", EURO * 81, GSM7, 2),
    ("accented letters in the GSM alphabet", "é" * 160, GSM7, 1),
    ("70 UCS-2 fit one", "ş" * 70, UCS2, 1),
    ("71 UCS-2 need two", "ş" * 71, UCS2, 2),
    ("134 UCS-2 fit two parts of 67", "ş" * 134, UCS2, 2),
    ("one emoji turns 100 letters into UCS-2", "a" * 99 + EMOJI, UCS2, 2),
    ("68 letters + emoji = 70 units", "a" * 68 + EMOJI, UCS2, 1),
    ("35 emoji = 70 units", EMOJI * 35, UCS2, 1),
    ("36 emoji = 72 units", EMOJI * 36, UCS2, 2),
]


@pytest.mark.parametrize(("label", "text", "encoding", "count"), SPLIT_CASES, ids=[c[0] for c in SPLIT_CASES])
def test_split(label: str, text: str, encoding: str, count: int) -> None:
    plan = split_segments(text)
    assert plan.encoding == encoding
    assert plan.count == count
    assert "".join(plan.parts) == text


def test_extension_character_never_split() -> None:
    plan = split_segments("a" * 152 + EURO + "a" * 10)
    assert plan.parts[0] == "a" * 152
    assert plan.parts[1] == EURO + "a" * 10


def test_surrogate_pair_never_split() -> None:
    plan = split_segments("ş" * 66 + EMOJI + "ş" * 10)
    assert plan.parts[0] == "ş" * 66
    assert plan.parts[1].startswith(EMOJI)


def test_parts_respect_limits() -> None:
    text = ("Laporan #12345678 [diproses] {dinas} ~ " * 20) + EURO
    plan = split_segments(text)
    assert plan.encoding == GSM7
    assert all(text_units(part, GSM7) <= 153 for part in plan.parts)


def test_alphabet_detection() -> None:
    assert is_gsm7("Halo @ £ $ ¥ è é ù ì ò Ç Ø ø Å å Δ _ Φ Γ Λ Ω ^ { } \\ [ ~ ] | €")
    assert not is_gsm7("halo …")
    assert not is_gsm7("halo 😀")
    assert not is_gsm7("你好")


def test_fit_leaves_short_text_alone() -> None:
    plan = fit_segments("a" * 459, 3)
    assert not plan.truncated
    assert plan.text == "a" * 459


def test_fit_cuts_gsm7_with_three_dots() -> None:
    text = "kata " * 200
    plan = fit_segments(text, 3)
    assert plan.truncated
    assert plan.encoding == GSM7  # "…" would have forced UCS-2
    assert plan.text.endswith("kata...")
    assert plan.count <= 3
    assert text_units(plan.text, GSM7) <= 459


def test_fit_cuts_ucs2_with_ellipsis() -> None:
    text = "Mohon maaf 🙏 " * 30
    plan = fit_segments(text, 2)
    assert plan.truncated
    assert plan.encoding == UCS2
    assert plan.text.endswith("…")
    assert plan.count == 2
    assert text_units(plan.text, UCS2) <= 134


def test_fit_cap_of_one() -> None:
    plan = fit_segments("b" * 200, 1)
    assert plan.count == 1
    assert plan.text == "b" * 157 + "..."


def test_fit_never_below_one_segment() -> None:
    assert fit_segments("c" * 170, 0).count == 1


def test_segment_counts_of_whole_texts_are_the_sum_of_their_characters() -> None:
    texts = [
        "",
        "Laporan Anda sudah kami terima.",
        "Harga {naik} 10€ ~ [cek] | ^ \\ di jalan",
        "Terima kasih 🙏 laporan Anda kami terima",
        "Jalan rusak 😀𝄞 " * 12,
        "x" * 161,
        "€" * 81,
    ]
    for text in texts:
        encoding = encoding_of(text)
        assert text_units(text) == sum(char_units(c, encoding) for c in text)
        assert text_units(text, encoding) == sum(char_units(c, encoding) for c in text)
        plan = fit_segments(text, 3)
        assert plan.count <= 3
        assert all(text_units(part, plan.encoding) <= 153 or plan.count == 1 for part in plan.parts)
