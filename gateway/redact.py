"""Personal-data removal for anything shown publicly (transparency page, Open311 reads).

Complaint texts are written by citizens who often sign them: "nama saya Budi
Santoso, HP 0812-3456-7890, NIK 3171...". The public page must show what was
reported without who reported it, so before a text leaves the gateway publicly
it passes through `redact`:

* e-mail addresses;
* NIK (16 digits, recognised with ``stdnum.id.nik`` so a valid NIK is named as
  such) and any other run of 16 digits, because a NIK with a typo is still one;
* phone numbers, found by ``phonenumbers`` (Indonesian numbering) plus any run of
  9 or more digits left over, since citizens write numbers in every shape;
* names the citizen gave as their own ("nama saya X", "saya X", "saya bernama X")
  and the contact's display name (each part of it too).

Redaction errs on the side of removing too much: a lost house number hurts less
than a published phone number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from stdnum.id import nik as stdnum_nik

#: Placeholders put where personal data was (Indonesian, as the public page is).
PLACEHOLDERS: dict[str, str] = {
    "email": "[email disamarkan]",
    "nik": "[NIK disamarkan]",
    "phone": "[nomor disamarkan]",
    "name": "[nama disamarkan]",
}

_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)
# 16 digits, possibly grouped by spaces, dots or dashes (a NIK written "3171 0101 0190 0001").
_SIXTEEN = re.compile(r"(?<!\d)(?:\d[ .\-]?){15}\d(?!\d)")
# What is left of a phone number after phonenumbers: 9+ digits with separators, optional +.
_LONG_DIGITS = re.compile(r"\+?(?<!\d)\d(?:[\d ().\-]{7,}\d)(?!\d)")

# Words that follow "saya" without being a name: verbs, adverbs, pronoun uses.
_NOT_NAMES = frozenset(
    """
    mau ingin akan sudah telah sedang belum tidak tak bukan hanya juga sangat mohon minta meminta
    melaporkan lapor laporkan mengadukan mengeluhkan adukan keluhkan sebagai selaku warga tinggal
    bertempat berdomisili dari di ke yang dan atau ini itu kira rasa pikir lihat melihat dengar
    mendengar tahu punya memiliki bisa dapat harap berharap kecewa sedih senang pernah baru masih
    sering selalu kembali coba mencoba datang pergi pulang ada adalah perlu butuh membutuhkan
    kirim mengirim sampaikan menyampaikan tanya bertanya seorang salah satu sendiri pun sekeluarga
    """.split()  # noqa: SIM905 - a word list reads better as text
)
# A name word: capitalised letters, apostrophes and hyphens allowed ("Ni'mah", "Siti-Aisyah").
_NAME_WORD = r"[A-Z][a-zA-Z'\-]+"
# "nama saya budi santoso" may be lower case: take up to three words after an explicit "nama".
_NAMED = re.compile(
    r"\b(?P<lead>nama(?:\s+saya|\s+aku|\s+lengkap(?:\s+saya)?)\s*(?::|adalah|ialah)?\s*|nama\s*:\s*)"
    r"(?P<name>[^\W\d_]+(?:\s+[^\W\d_]+){0,2})",
    re.IGNORECASE | re.UNICODE,
)
# "saya Budi", "saya bernama Budi", "perkenalkan, saya Budi": only capitalised words after "saya".
_SAYA = re.compile(
    r"\b(?P<lead>(?i:saya|aku)(?:\s+(?i:bernama))?\s+)"
    r"(?P<name>" + _NAME_WORD + r"(?:\s+" + _NAME_WORD + r"){0,2})"
)
_BERNAMA = re.compile(
    r"\b(?P<lead>(?i:bernama)\s+)(?P<name>[^\W\d_]+(?:\s+" + _NAME_WORD + r"){0,2})", re.UNICODE
)


def _is_nik(digits: str) -> bool:
    try:
        return bool(stdnum_nik.is_valid(digits))
    except Exception:  # stdnum raises on odd input: treat it as "not a NIK"
        return False


def _sub_sixteen(match: re.Match[str]) -> str:
    """Every 16-digit run goes; stdnum only decides whether it is labelled a NIK."""
    digits = re.sub(r"\D", "", match.group(0))
    return PLACEHOLDERS["nik"] if _is_nik(digits) else PLACEHOLDERS["phone"]


def _strip_phones(text: str) -> str:
    spans: list[tuple[int, int]] = []
    for found in phonenumbers.PhoneNumberMatcher(text, "ID", leniency=phonenumbers.Leniency.POSSIBLE):
        spans.append((found.start, found.end))
    for start, end in reversed(spans):
        text = text[:start] + PLACEHOLDERS["phone"] + text[end:]
    return _LONG_DIGITS.sub(PLACEHOLDERS["phone"], text)


def _name_filter(words: str) -> str:
    """Keep only the leading words of a captured "name" that are not ordinary words."""
    kept: list[str] = []
    for word in words.split():
        if word.lower() in _NOT_NAMES:
            break
        kept.append(word)
    return " ".join(kept)


def _sub_name(match: re.Match[str]) -> str:
    name = _name_filter(match.group("name"))
    if not name:
        return match.group(0)
    rest = match.group("name")[len(name) :]
    return match.group("lead") + PLACEHOLDERS["name"] + rest


def _name_parts(names: Iterable[str | None]) -> list[str]:
    """Each given name whole, then its parts of three letters or more, longest first."""
    parts: set[str] = set()
    for name in names:
        if not name:
            continue
        cleaned = " ".join(name.split())
        if len(cleaned) >= 3:
            parts.add(cleaned)
        parts.update(p for p in re.split(r"[\s.,]+", cleaned) if len(p) >= 3)
    return sorted(parts, key=len, reverse=True)


def redact(text: str | None, names: Iterable[str | None] = ()) -> str:
    """``text`` without e-mail addresses, NIKs, phone numbers and the citizen's own name(s).

    ``names`` are names known to be the citizen's (the contact's display name,
    an Open311 first/last name); they are removed wherever they appear.
    """
    if not text:
        return ""
    out = _EMAIL.sub(PLACEHOLDERS["email"], text)
    out = _SIXTEEN.sub(_sub_sixteen, out)
    out = _strip_phones(out)
    for part in _name_parts(names):
        out = re.sub(r"(?<!\w)" + re.escape(part) + r"(?!\w)", PLACEHOLDERS["name"], out, flags=re.IGNORECASE)
    out = _NAMED.sub(_sub_name, out)
    out = _SAYA.sub(_sub_name, out)
    out = _BERNAMA.sub(_sub_name, out)
    # "[nama disamarkan] [nama disamarkan]" from a name removed part by part reads as one.
    placeholder = re.escape(PLACEHOLDERS["name"])
    return re.sub(rf"{placeholder}(?:\s+{placeholder})+", PLACEHOLDERS["name"], out)


def initials(name: str | None) -> str | None:
    """ "Budi Santoso" -> "B. S.": how a public (non-anonymous) reporter is shown."""
    if not name:
        return None
    letters = [w[0].upper() + "." for w in name.split() if w and w[0].isalpha()]
    return " ".join(letters[:3]) or None
