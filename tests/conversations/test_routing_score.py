"""Evidence, not first match: the words of a complaint weighed per category (config as shipped)."""

from __future__ import annotations

import pytest

from conversations.categorize import infer_category
from conversations.routing_score import build_rules, confidence, score
from tests.catalogue import ROOT_CONFIG, catalogue_config, snapshot_of

CONFIG = catalogue_config()
#: The shipped catalogue, for the tests of words real complaints used (their keywords live there).
SHIPPED = snapshot_of(ROOT_CONFIG)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # "jalan" is in every address: it must not send these to public works.
        ("Banyak PKL berjualan di trotoar Jalan Merdeka, pejalan kaki terpaksa turun ke jalan", "pkl"),
        ("Spanduk dan bendera partai dipasang di tiang Jalan Sudirman sudah lewat masa kampanye", "reklame"),
        ("Pengamen dan pengemis di lampu merah Jalan Ahmad Yani tiap malam", "ketertiban"),
        ("Suara karaoke bising sampai jam 2 malam di Gang Mawar RT 03", "ketertiban"),
        ("Bangunan liar berdiri di atas saluran Jalan Kenanga", "bangunan_liar"),
        # Bodies outside regional authority are recognised as such.
        ("Listrik PLN padam terus tiap malam, tegangan naik turun", "listrik"),
        ("Sertifikat tanah PTSL saya belum jadi sudah 2 tahun", "pertanahan"),
        ("Antrian paspor di kantor imigrasi lama sekali", "keimigrasian"),
        ("Jalan nasional jalur pantura berlubang banyak", "jalan_nasional"),
        # Javanese and Sundanese words.
        ("dalane ruksak parah, dalan bolong neng ngarep pasar", "jalan"),
        ("runtah numpuk di sisi walungan", "sampah"),
        ("uwuh ora diangkut wis seminggu", "sampah"),
        ("lampune ora murup wis rong minggu neng gang", "penerangan"),
    ],
)
def test_the_category_is_weighed_on_evidence(text: str, category: str) -> None:
    top = score(CONFIG, text).top
    assert top is not None and top.category == category, score(CONFIG, text).suggestions[:3]


def test_the_place_phrase_and_address_words_do_not_decide() -> None:
    # A street named after a road word is still a street: the complaint is about garbage.
    result = score(CONFIG, "Sampah menumpuk di Jl. Aspal Raya No. 5, Kel. Sukajadi")
    assert result.top is not None and result.top.category == "sampah"
    assert all(s.category != "jalan" for s in result.suggestions)
    # An address alone is no evidence at all.
    assert score(CONFIG, "di Jalan Merdeka gang 3 RT 02 RW 05").top is None


def test_the_deciding_words_and_a_calibrated_confidence_come_back() -> None:
    top = score(CONFIG, "jalan rusak berlubang parah, aspal mengelupas").top
    assert top is not None and top.category == "jalan"
    assert any("aspal" in w for w in top.words) and top.confidence >= 0.6
    thin = score(CONFIG, "ada lubang").top
    assert thin is not None and thin.confidence < top.confidence
    # Two categories with equal evidence never look sure.
    assert confidence(3, 6) < 0.5
    assert confidence(0, 0) == 0.0


def test_words_against_a_category_count_against_it() -> None:
    # "lampu" speaks against roads: a dark street is a lighting complaint.
    result = score(CONFIG, "lampu jalan mati, jalan jadi gelap dan rusak")
    assert result.top is not None and result.top.category == "penerangan"


def test_rules_come_from_config_documents() -> None:
    rules = build_rules(
        {
            "categories": [
                {"code": "a", "keywords": ["kucing"], "not": ["anjing"]},
                {"code": "b", "keywords": ["jalan"]},
            ]
        },
        {"threshold": 0.7, "generic_words": ["jalan"], "weights": {"keyword": 2}},
        {},
    )
    assert rules.threshold == 0.7
    assert score(CONFIG, "kucing di jalan", rules=rules).suggestions[0].category == "a"
    assert score(CONFIG, "kucing di jalan", rules=rules).suggestions[0].score == 2
    assert score(CONFIG, "kucing dan anjing", rules=rules).top is None  # 2 - 4 < 0
    assert score(CONFIG, "jalan", rules=rules).top is None  # a keyword made only of address words is dropped


def test_infer_category_uses_the_weighed_evidence() -> None:
    assert infer_category(CONFIG, "Banyak PKL berjualan di jalan depan pasar") == "pkl"
    assert infer_category(CONFIG, "pelayanan lambat sekali") is None


def test_a_deployers_broken_pattern_or_threshold_is_reported_not_fatal() -> None:
    rules = build_rules(
        {"categories": [{"code": "a", "keywords": ["kucing"], "patterns": ["(unclosed"]}]},
        {"threshold": "tinggi", "weights": {"keyword": "tiga"}},
        {},
    )
    assert rules.threshold == 0.45 and rules.weights["keyword"] == 3
    assert any("a.patterns[0]" in p for p in rules.problems) and any("threshold" in p for p in rules.problems)
    assert score(CONFIG, "kucing lagi", rules=rules).suggestions[0].category == "a"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # The place phrase may swallow the end of a phrase that starts outside it.
        ("Kapan lagi kalau malam hari lampu jalan di Jalan Brigjend Katamso hidup?", "penerangan"),
        # "mati lampu" / "lampu padam" at home is a power cut, not a street light.
        ("Mati lampu lagi sejak sore, kulkas kami rusak", "listrik"),
        ("Hari ini juga lampu sempat mati lima menit sebelum listrik kembali menyala", "listrik"),
        # Buskers at a traffic light are a public-order complaint.
        ("Anak punk mengamen di lampu lalu lintas sambil gedor kaca mobil", "ketertiban"),
        # Possessive and Sundanese/Javanese words for water that does not flow.
        ("Airnya tidak mengalir selama berhari-hari", "air"),
        ("Dalam seminggu itu kadang ngocor dan tidak", "air"),
        # Javanese for a traffic light.
        ("lampu abang kae mati karo ijo, bahaya", "transportasi"),
        # Recipients of social aid call themselves KPM.
        ("Bantuan tidak kita terima tujuh bulan, padahal kami masih terdaftar KPM", "bansos"),
        # "bangunan" alone is any building (a shop's name here): no evidence of an unlicensed one.
        ("Lampu jalan depan Toko Bangunan Makmur mati", "penerangan"),
    ],
)
def test_words_that_misled_the_router_on_real_complaints(text: str, category: str) -> None:
    result = score(SHIPPED, text)
    assert result.top is not None and result.top.category == category, result.suggestions[:3]
    assert all(s.category != "bangunan_liar" for s in result.suggestions)


def test_reduplication_with_a_hyphen_reads_as_the_bare_word() -> None:
    # "pohon-pohon" is how the plural is written; "sampah2" how it is typed.
    top = score(SHIPPED, "pohon-pohon kering rawan tumbang").top
    assert top is not None and top.category == "taman", score(
        SHIPPED, "pohon-pohon kering rawan tumbang"
    ).suggestions


def test_a_phrase_two_categories_list_counts_for_both() -> None:
    # "lampu padam" is a power cut at home as often as a dark street: both hear it.
    result = score(SHIPPED, "setiap malam lampu padam sampai berjam-jam")
    assert {"listrik", "penerangan"} <= {s.category for s in result.suggestions}, result.suggestions


@pytest.mark.parametrize(
    ("text", "category", "confident"),
    [
        # Loud music is the noise complaint even without the word "bising"; "risih" is disturbed.
        ("musik dengan volume keras tiap malam, warga risih", "ketertiban", True),
        # A house leaning and about to fall is a housing (RTLH) case.
        ("rumahnya miring dan hampir roboh", "perumahan", True),
        ("omah e mbah wis reyot, meh ambruk", "perumahan", True),
        # Dead trees that may fall are the parks office's.
        ("pohon kering rawan tumbang kalau angin kencang", "taman", True),
        # A dumping ground is waste, not land, even on someone's plot.
        ("lahan kosong dijadikan tempat buangan sampah", "sampah", True),
        # Murky water, Indonesian word order reversed, and Javanese/Sundanese words for murky.
        ("keruh air nya, kecoklatan", "air", True),
        ("banyune buthek wis telung dina", "air", False),
        # A lamp out for hours every night is a power cut.
        ("setiap malam lampu padam sampai berjam-jam", "listrik", False),
        # Passports are queued for before the umrah season.
        ("antre dari subuh, banyak yang mau berangkat umroh", "keimigrasian", False),
    ],
)
def test_words_added_from_the_development_misses(text: str, category: str, confident: bool) -> None:
    result = score(SHIPPED, text)
    top = result.top
    assert top is not None and top.category == category, result.suggestions[:3]
    if confident:
        assert top.confidence >= SHIPPED.rules.threshold, result.suggestions[:3]
