"""Reading a message as an emergency: real-looking phrasings that are, and near-misses that are not.

A citizen who writes "rumah saya kebakaran" must get the emergency numbers before
any question; one who writes "lampu jalan mati" must not be told to call 112.
Both tables are the specification: a phrase added to config/emergency.yaml has to
keep every near-miss below quiet.
"""

from __future__ import annotations

import pytest

from conversations.emergency import detect, normalize_words
from tests.catalogue import catalogue_config

CONFIG = catalogue_config()

EMERGENCIES: list[tuple[str, str]] = [
    # fire
    ("Tolong rumah saya kebakaran di Jl. Melati 4!!", "fire"),
    ("KEBAKARAN di pasar sukamaju sekarang", "fire"),
    ("ada kebakaran gudang dekat sd 3, api besar", "fire"),
    ("kbakaran rmh tetangga", "fire"),  # a dropped letter
    ("kebakarn di gang 5", "fire"),
    ("omahku kobong", "fire"),  # Javanese
    ("imah tatangga kahuruan", "fire"),  # Sundanese
    ("Fire! the house next door is on fire", "fire"),
    ("mobil terbakar di tol", "fire"),
    # self-harm
    ("saya mau bunuh diri", "self_harm"),
    ("aku pengen mati aja", "self_harm"),
    ("udh gak kuat, ingin mati saja", "self_harm"),
    ("rasanya lebih baik mati", "self_harm"),
    ("sy mau bundir", "self_harm"),
    ("I want to kill myself", "self_harm"),
    ("capek hidup, pengin mengakhiri hidup", "self_harm"),
    # medical and accidents
    ("ada kecelakaan motor di perempatan, korban tidak sadarkan diri", "medical"),
    ("tabrakan di jl sudirman, butuh ambulans", "medical"),
    ("bapak saya pingsan di jalan, tolong", "medical"),
    ("ada anak tenggelam di sungai", "medical"),
    ("bocah kelelep di kali belakang rumah", "medical"),
    ("tetangga kena serangan jantung", "medical"),
    ("warga keracunan makanan hajatan, banyak yang muntah", "medical"),
    ("istri saya mau melahirkan, ketuban pecah", "medical"),
    ("ayah saya stroke, butuh ambulans segera", "medical"),
    # violence and crime
    ("suami saya memukuli saya terus, KDRT", "violence"),
    ("tolong ibu saya dipukuli bapak", "violence"),
    ("saya dibegal di jalan raya barusan", "crime"),
    ("ada maling masuk rumah sekarang", "crime"),
    ("tawuran pelajar sekarang depan sma 2 pakai sajam", "crime"),
    ("anak saya diculik", "violence"),
    ("I was robbed at knifepoint", "crime"),
    # disasters
    ("banjir setinggi dada, kami terjebak di atap", "disaster"),
    ("terjebak banjir, air terus naik", "disaster"),
    ("gempa, rumah roboh ada yang tertimpa", "disaster"),
    ("longsor menimbun rumah warga, ada korban tertimbun", "disaster"),
    # a cry for help and nothing else
    ("TOLONG", "general"),
    ("tolooong tolong", "general"),
    ("tulung!!", "general"),
    ("Help me", "general"),
    ("tolong bantu", "general"),
]

NEAR_MISSES: list[str] = [
    "bekas kebakaran tahun lalu belum dibersihkan",
    "alat pemadam kebakaran di pasar kadaluarsa",
    "pos pemadam kebakaran tidak ada petugasnya",
    "kampung kami rawan kebakaran, hidran tidak berfungsi",
    "sampah dibakar tiap sore, asapnya masuk rumah",
    "fire extinguisher at the market has expired",
    "rumah sakit pelayanannya lambat",
    "lampu jalan mati",
    "HP saya mati",
    "sinyal mati",
    "sinyal mati dari kemarin",
    "mati lampu",
    "mati lampu terus tiap malam",
    "ikan mati di sungai karena limbah",
    "pohon di taman mati, tolong diganti",
    "kecelakaan kerja bulan lalu, BPJS belum cair",
    "jalan ini sering kecelakaan, tolong dipasang rambu",
    "santunan kecelakaan dari jasa raharja belum diterima",
    "tolong diperbaiki jalan berlubang di depan pasar",
    "tolong sampah di depan rumah diangkut",
    "banjir di jalan merdeka tiap hujan",
    "sering terjebak banjir di underpass, tolong pompanya diperbaiki",
    "tiap hari terjebak macet di simpang lima",
    "jalan tenggelam kalau hujan deras",
    "sampah hanyut ke rumah warga",
    "bantuan korban gempa belum cair",
    "daerah rawan longsor belum dipasang tanda",
    "rawan begal, lampu jalan mati semua",
    "maling sandal di masjid marak",
    "rumah saya kemalingan minggu lalu, polisi belum datang",
    "sosialisasi KDRT di kelurahan tidak pernah ada",
    "jembatan ini rawan bunuh diri, tolong dipasang pagar",
    "pintu darurat di mall dikunci",
    "warga tidak sadar membuang sampah sembarangan",
    "listrik mati, lebih baik mati lampu terjadwal",
    "tagihan belum terbayar padahal sudah transfer",
    "ambulans desa rusak sudah sebulan",
    "antrean puskesmas lama sekali",
    "Malang kota, jalan rusak",
    "obat di apotek puskesmas habis",
    "keluarga kami tertimpa musibah, bansos belum cair",
    "pengen mati ketawa baca jawaban dinas",
    "mosquito breeding in the drain behind the market",
]


@pytest.mark.parametrize(("text", "kind"), EMERGENCIES, ids=[t for t, _ in EMERGENCIES])
def test_an_emergency_is_recognised_with_its_kind(text: str, kind: str) -> None:
    found = detect(CONFIG, text)
    assert found is not None, text
    assert found.kind == kind


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_a_near_miss_is_not_an_emergency(text: str) -> None:
    assert detect(CONFIG, text) is None


def test_the_tables_are_big_enough_to_mean_something() -> None:
    assert len(EMERGENCIES) >= 30 and len(NEAR_MISSES) >= 30


def test_words_are_normalised_before_matching() -> None:
    # Case, punctuation, stretched letters and SMS shorthand do not hide a word.
    assert normalize_words(CONFIG, "TOLOOONG!!  Rmh sy  KEBAKARAN") == [
        "tolong",
        "rumah",
        "saya",
        "kebakaran",
    ]


def test_empty_and_command_like_texts_are_not_emergencies() -> None:
    for text in ("", "   ", "YA", "STATUS 12345671", "1", "BATAL"):
        assert detect(CONFIG, text) is None
