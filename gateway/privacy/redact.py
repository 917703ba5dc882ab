"""Personal-data removal for anything shown publicly (transparency page, Open311 reads).

Complaint texts are written by citizens who often sign them: "nama saya Budi
Santoso, HP 0812-3456-7890, NIK 3171...". The public page must show what was
reported without who reported it, so before a text leaves the gateway publicly
it passes through `redact`.

Citizens write personal data in every shape, and sometimes disguise it on
purpose, so the text is first normalised (NFKC: full-width ``０８１２`` and ``＠``
become ``0812`` and ``@``; other scripts' digits become ASCII; zero-width
characters go). Then, in this order:

1. things that look like numbers but are not personal are *set aside* so no rule
   below can touch them: prices (``Rp 200.000``), dates, times, tracking numbers
   (``#12345678``), RT/RW, kilometre posts, coordinates, and street or place
   names (``Jl. Jend. Sudirman``, ``Jalan Ahmad Yani``, ``Kel. Cempaka Putih``);
2. e-mail addresses, also written ``budi [at] gmail [dot] com`` or ``budi(at)gmail.com``;
3. numbers after a word that announces them (``HP``, ``WA``, ``telp``, ``NIK``,
   ``KTP``, ``rek``...), whatever their length or separators;
4. phone numbers ``phonenumbers`` finds (``Leniency.VALID``: POSSIBLE took prices
   and tracking numbers for phone numbers);
5. digit groups joined by spaces, dots, dashes or underscores that read as an
   Indonesian phone number (``0812_3456_7890``), a NIK (16 digits, labelled NIK
   when ``stdnum.id.nik`` validates it) or any other long number (10+ digits:
   bank accounts, NPWP);
6. the reporter's known names (profile display name, Open311 name), except the
   parts that are ordinary words ("Warga Peduli" must not blank "rumah warga");
7. names the citizen gave as their own: "nama saya X", "saya X", "Saya, X",
   "saya bernama X", "a.n./atas nama X", "ttd X", "hormat saya, X", "pelapor: X".

Each replacement is set aside too, so a later rule never reads an earlier
placeholder. Redaction still errs on the side of removing too much, but no
longer by removing prices, dates or street names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

import phonenumbers
from stdnum.id import nik as stdnum_nik

#: Placeholders put where personal data was (Indonesian, as the public page is).
PLACEHOLDERS: dict[str, str] = {
    "email": "[email disamarkan]",
    "nik": "[NIK disamarkan]",
    "phone": "[nomor disamarkan]",
    "name": "[nama disamarkan]",
}

# --------------------------------------------------------------------------- word lists
#: Courtesy titles: kept in the text, never a name by themselves.
_HONORIFICS = frozenset(
    """
    bapak bpk pak ibu bu sdr sdri saudara saudari mas mbak mba kak bang om tante h hj haji hajah
    dr drs dra ir prof ust ustadz kyai kh
    """.split()  # noqa: SIM905 - a word list reads better as text
)
#: Ordinary words citizens write, which are not names even when a profile name contains them or
#: they follow "saya" / "a.n.". One list for every name rule.
_COMMON_WORDS = _HONORIFICS | frozenset(
    """
    mau ingin akan sudah sdh telah sedang belum blm tidak tak gak nggak ga bukan hanya juga sangat
    mohon minta meminta melaporkan lapor laporkan laporan mengadukan mengeluhkan adukan keluhkan
    sebagai selaku warga masyarakat penduduk tinggal bertempat berdomisili dari di ke yang yg dan
    atau ini itu kira rasa pikir lihat melihat dengar mendengar tahu tau punya memiliki bisa dapat
    harap berharap kecewa sedih senang pernah baru masih sering selalu kembali coba mencoba datang
    pergi pulang ada adalah perlu butuh membutuhkan kirim mengirim sampaikan menyampaikan tanya
    bertanya seorang salah satu sendiri pun sekeluarga kami kita saya sy aku kamu anda dia mereka
    keluarga tetangga teman rumah jalan jln jl gang gg lorong desa kampung kota kelurahan kecamatan
    kabupaten dusun rt rw no nomor nama info informasi peduli pelapor pengadu admin cs pemerintah
    pemkot pemkab pemda dinas camat lurah kades bupati walikota gubernur ketua pengurus petugas
    polisi satpol rusak berlubang lubang rusaknya depan belakang samping dekat sebelah ujung
    tengah umum baik buruk parah lama baru besar kecil tolong terima kasih makasih mksh selamat pagi
    siang sore malam hormat salam demikian dengan hormat ttd tertanda sejahtera pelayanan publik
    layanan pengaduan aduan keluhan masalah banjir sampah air listrik lampu macet parkir pungli
    sekolah puskesmas pasar kantor toko warung mesjid masjid gereja ibu rumah tangga kerja bekerja
    pegawai guru siswa murid orang tua anak korban sebelum sesudah setelah karena untuk pada
    tentang soal atas nama tersebut sini sana situ semua para bersama
    terus cuma udah lagi merasa heran bingung kesal marah malu takut khawatir resah terganggu
    dirugikan menunggu tunggu mengalami alami mendapat dapatkan menerima kena jadi sempat yakin setuju
    usul mengusulkan sarankan menyarankan ajukan mengajukan protes komplain keberatan tanyakan
    menanyakan bayar membayar urus mengurus antri antre datangi mendatangi hubungi menghubungi
    telepon menelepon pakai memakai gunakan menggunakan lewat melewati lewati pengguna pelanggan
    nasabah pasien pemilik penghuni pedagang pengendara sopir ojol driver mahasiswa pelajar istri
    suami mengerti paham amat sungguh betul anonim rahasia hamba allah pemohon
    """.split()  # noqa: SIM905
)
#: Words that open a street or place name; what follows them is a name of a place, not of a person.
#: Abbreviations may take a dot ("Jl.", "Kel."); after a full word a dot ends the sentence.
_PLACE_ABBREVIATIONS = r"jl|jln|gg|lr|komp|perum|kel|ds|dsn|kec|kab|kp|univ"
_PLACE_WORDS = (
    r"jalan|gang|lorong|komplek|kompleks|perumahan|kelurahan|desa|dusun|kecamatan|kabupaten|kota|"
    r"kampung|blok|jembatan|pasar|taman|terminal|stasiun|masjid|rsud|rs|puskesmas|universitas"
)
#: Ranks and titles inside street names ("Jl. Jend. Sudirman", "Jl. KH. Agus Salim", "Jalan Raya Bogor").
_PLACE_TITLES = _HONORIFICS | frozenset(
    "jend jenderal jendral letjen mayjen brigjen kol kolonel kapten kapt laks marsekal mh raya".split()  # noqa: SIM905
)

# --------------------------------------------------------------------------- patterns
# Set aside first (never personal, but they look like numbers).
_KEEP_PATTERNS = [
    # Prices and kilometre posts never start "0" and another digit: "Rp 0812..." is a phone number.
    re.compile(
        r"\b(?:rp|idr)\.?\s?(?!0\d)\d[\d.,]*(?![ _\-]?\d)(?:\s?(?:juta|jt|ribu|rb|miliar|milyar|m|k))?\b",
        re.IGNORECASE,
    ),
    re.compile(  # dates: 12/03/2024, 05.03.2024, 2024-03-12, 03/2024
        r"(?<![\d.,/\-])(?:\d{1,2}[./\-]\d{1,2}[./\-](?:19|20)?\d{2}|(?:19|20)\d{2}[./\-]\d{1,2}[./\-]\d{1,2}"
        r"|\d{1,2}/(?:19|20)\d{2})(?![./\-]?\d)"
    ),
    re.compile(r"(?<![\d.,:/\-])(?:[01]?\d|2[0-3])[.:][0-5]\d(?:[.:][0-5]\d)?(?![.:]?\d)"),  # times
    re.compile(r"#\s?\d{8}(?!\d)"),  # tracking numbers
    re.compile(r"\b(?:rt|rw)\.?\s?\d{1,3}(?:\s?/\s?(?:rw\.?\s?)?\d{1,3})?(?!\d)", re.IGNORECASE),
    # A kilometre post is short ("KM 12", "km 23+400"): "KM 3171 0101 0190 0001" is a NIK after "KM".
    re.compile(r"\bkm\.?\s?(?!0\d)\d{1,4}(?:[+.,]\d{1,3})?(?!\d|[ ._\-]\d)", re.IGNORECASE),
    re.compile(r"-?\d{1,3}\.\d{3,}\s*,\s*-?\d{1,3}\.\d{3,}"),  # coordinates
]
_PLACE_START = re.compile(rf"\b(?:(?:{_PLACE_ABBREVIATIONS})\b\.?|(?:{_PLACE_WORDS})\b(?!\.))", re.IGNORECASE)
_PLACE_WORD = re.compile(r"[ \t]+([^\W\d_][\w'\-]*)(\.?)")

# "@" as written, or disguised: " @ ", "[at]", "(at)", "{@}", " at ".
_AT = r"(?:@|\s*@\s*|\s*[\[({<]\s*(?:at|@)\s*[\])}>]\s*|\s+at\s+)"
_DOT = r"(?:\.|\s*[\[({<]\s*(?:dot|titik|\.)\s*[\])}>]\s*|\s+(?:dot|titik)\s+)"
_DOMAIN = r"[\w\-]+(?:" + _DOT + r"[\w\-]+)+"
_EMAIL = re.compile(
    # A disguised "@" needs a letter in the name before it, so "... 0190 0001 @x.id" is not taken
    # for an e-mail address (that would hide the NIK's last group and leave the rest).
    r"[\w.+\-]*\w@"
    + _DOMAIN
    + r"|(?=[\w.+\-]*[^\W\d_])[\w.+\-]*\w"
    + _AT
    + _DOMAIN
    + r"|[\w.+\-]*\w@(?:gmail|yahoo|ymail|hotmail|outlook|live|icloud|proton(?:mail)?)\b",
    re.IGNORECASE,
)

# Digit groups joined by one separator (space, dot, dash, underscore, with spaces around it).
_DIGIT_RUN = re.compile(r"(?<![\w+])\+?\(?\d+\)?(?:(?:[ \t]*[._\-][ \t]*|[ \t]+)\(?\d+\)?)*")
# A word that announces a number: the number after it goes whatever its shape.
_NUMBER_CUE = re.compile(
    r"\b(?P<cue>nik|ktp|kk|npwp|rek|rekening|hp|telp|tlp|telepon|telpon|wa|whatsapp|sms|hub|hubungi|"
    r"kontak|ponsel|handphone|call)\b[^\d\n]{0,25}?(?=[+(]?\d)",
    re.IGNORECASE,
)
_ID_CUES = frozenset({"nik", "ktp", "kk"})
#: Fewest digits of a cued number: a local phone number without area code has seven.
_CUED_MIN_DIGITS = 7

_NAME_WORD = r"[^\W\d_][\w'\-]*"
_CAP_WORD = r"[A-Z][a-zA-Z'\-]+"
_HONORIFIC = r"(?:(?:" + "|".join(sorted(_HONORIFICS, key=len, reverse=True)) + r")\.?\s+)*"
# Leads after which the next words are the writer's name, in any case.
_NAME_LEADS = re.compile(
    r"(?P<lead>\b(?:"
    r"nama\s+(?:saya|sy|aku|lengkap(?:\s+saya)?)|namaku|nm\s+(?:saya|sy)|(?:nama|pelapor|pengadu)(?=\s*:)"
    r"|atas\s+nama|a\s?\.\s?n\b\.?|a/n\b|an\.|ttd\b\.?|tertanda|hormat\s+(?:saya|kami)|salam\s+hormat"
    r")\s*(?:[:,\-]|adalah|ialah)?\s*" + _HONORIFIC + r")"
    r"(?P<name>" + _NAME_WORD + r"(?:[ \t]+" + _NAME_WORD + r"){0,2})",
    re.IGNORECASE,
)
# "saya Budi", "Saya, Budi", "saya bernama Budi", "bernama budi Santoso": capitalised after "saya".
_SAYA = re.compile(
    r"\b(?P<lead>(?i:saya|aku)(?:\s*,)?(?:\s+(?i:bernama))?\s+(?i:" + _HONORIFIC + r"))"
    r"(?P<name>" + _CAP_WORD + r"(?:[ \t]+" + _CAP_WORD + r"){0,2})"
)
_BERNAMA = re.compile(
    r"\b(?P<lead>(?i:bernama)\s+(?i:"
    + _HONORIFIC
    + r"))(?P<name>"
    + _NAME_WORD
    + r"(?:[ \t]+"
    + _CAP_WORD
    + r"){0,2})"
)

_SENTINEL = re.compile("\ue000([\ue100-\ue1ff]+)\ue001")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u2060\ufeff\ue000\ue001\ue100-\ue1ff]|(?<=\\w)\u200d(?=\\w)")


class _SetAside:
    """Texts taken out of the redacted string, each replaced by a two-character sentinel.

    A sentinel is no word character and no digit, so a later rule sees a gap where a
    price, a street name or an earlier placeholder was, and cannot rewrite it.
    """

    def __init__(self) -> None:
        self.kept: list[str] = []

    def hide(self, text: str) -> str:
        index = len(self.kept)
        self.kept.append(text)
        digits = ""
        while True:  # the index in base 256, written with private-use characters
            index, rest = divmod(index, 256)
            digits = chr(0xE100 + rest) + digits
            if not index:
                return "\ue000" + digits + "\ue001"

    def restore(self, text: str) -> str:
        def original(match: re.Match[str]) -> str:
            index = 0
            for char in match.group(1):
                index = index * 256 + ord(char) - 0xE100
            return self.kept[index]

        return _SENTINEL.sub(original, text)


def normalise(text: str) -> str:
    """NFKC, ASCII digits, no invisible characters: the shape every rule below expects."""
    out = unicodedata.normalize("NFKC", text)
    out = re.sub(r"(?![0-9])\d", lambda m: str(unicodedata.decimal(m.group())), out)
    return _INVISIBLE.sub("", out)


def _is_nik(digits: str) -> bool:
    try:
        return bool(stdnum_nik.is_valid(digits))
    except Exception:  # stdnum raises on odd input: treat it as "not a NIK"
        return False


def _number_kind(digits: str, spaced: bool) -> tuple[int, str] | None:
    """(strength, placeholder kind) for a run of digits, or None when it is not personal.

    ``spaced``: the groups were joined by blanks only somewhere, so the run may
    really be several numbers side by side ("tahun 2019 2020 2021 2022"); then
    only a NIK that validates or a phone-number shape counts.
    """
    n = len(digits)
    if n == 16 and _is_nik(digits):
        return 3, "nik"
    if (digits.startswith("08") and 10 <= n <= 13) or (digits.startswith("628") and 11 <= n <= 14):
        return 3, "phone"
    if (re.match(r"0[2-9]", digits) and 9 <= n <= 12) or (re.match(r"62[2-9]", digits) and 10 <= n <= 13):
        return 2, "phone"
    if re.match(r"8[1-9]", digits) and 9 <= n <= 12:
        return 1, "phone"
    if not spaced and n >= 10:
        return 1, "phone"
    return None


def _close_bracket(text: str, start: int, end: int) -> int:
    """``end`` moved past a ")" that closes a "(" inside ``text[start:end]``, so none is left dangling."""
    if text[start:end].count("(") > text[start:end].count(")") and text[end : end + 1] == ")":
        return end + 1
    return end


#: A number is never spread over more groups than this (even "0 8 1 2 3 4 5 6 7 8 9 0").
_MAX_GROUPS = 16


def _redact_digit_run(run: re.Match[str], hide: Callable[[str], str]) -> str:
    """The personal numbers within one run of digit groups, each set aside.

    A run may hold several numbers side by side, or a number next to a stray one
    ("RT 03 0812 3456 7890"). Of all ways to read it as non-overlapping numbers,
    the one that covers the most digits wins, then the one whose shapes are the
    most certain (a mobile number over a landline-looking prefix of it).
    """
    text = run.group(0)
    groups = list(re.finditer(r"\d+", text))
    count = len(groups)
    # best[i]: (digits covered, strength, [(first, last, kind)]) for groups i.. ; filled from the end.
    best: list[tuple[int, int, list[tuple[int, int, str]]]] = [(0, 0, [])] * (count + 1)
    for first in range(count - 1, -1, -1):
        choice = best[first + 1]
        digits = ""
        spaced = False
        for last in range(first, min(count, first + _MAX_GROUPS)):
            if last > first:
                spaced = spaced or not text[groups[last - 1].end() : groups[last].start()].strip(" \t()")
            digits += groups[last].group()
            reading = _number_kind(digits, spaced)
            if reading is None:
                continue
            covered, strength, picks = best[last + 1]
            candidate = (covered + len(digits), strength + reading[0], [(first, last, reading[1]), *picks])
            if candidate[:2] > choice[:2]:
                choice = candidate
        best[first] = choice
    for first, last, kind in reversed(best[0][2]):
        start = 0 if first == 0 else groups[first].start()
        end = _close_bracket(text, start, groups[last].end())
        text = text[:start] + hide(PLACEHOLDERS[kind]) + text[end:]
    return text


def _redact_cued_numbers(text: str, hide: Callable[[str], str]) -> str:
    """A number right after "HP", "NIK", "rek"... goes whole, whatever its shape and length."""
    out: list[str] = []
    pos = 0
    for cue in _NUMBER_CUE.finditer(text):
        if cue.start() < pos:
            continue
        run = _DIGIT_RUN.match(text, cue.end())
        if run is None or len(re.sub(r"\D", "", run.group())) < _CUED_MIN_DIGITS:
            continue
        kind = "nik" if cue.group("cue").lower() in _ID_CUES else "phone"
        out.append(text[pos : cue.end()] + hide(PLACEHOLDERS[kind]))
        pos = run.end()
    out.append(text[pos:])
    return "".join(out)


def _set_aside_places(text: str, hide: Callable[[str], str]) -> str:
    """Street and place names: the marker, its titles and up to three following name words."""
    out: list[str] = []
    pos = 0
    for marker in _PLACE_START.finditer(text):
        if marker.start() < pos:
            continue
        end = marker.end()
        words = 0
        while words < 3:
            word = _PLACE_WORD.match(text, end)
            if word is None:
                break
            lower = word.group(1).lower()
            if lower in _PLACE_TITLES:
                end = word.end()
                continue
            if lower in _COMMON_WORDS:
                break
            end = word.end(1)
            words += 1
        if words:
            out.append(text[pos : marker.start()] + hide(text[marker.start() : end]))
            pos = end
    out.append(text[pos:])
    return "".join(out)


def _is_ordinary(phrase: str) -> bool:
    return all(w.lower() in _COMMON_WORDS for w in re.findall(r"[^\W\d_]+", phrase))


def _name_parts(names: Iterable[str | None]) -> list[str]:
    """Each known name whole, then its parts of three letters or more, longest first.

    A part (or a whole name) made only of ordinary words is left out: a profile
    called "Warga Peduli" must not blank every "warga" in the text.
    """
    parts: set[str] = set()
    for name in names:
        if not name:
            continue
        cleaned = " ".join(normalise(name).split())
        if len(cleaned) >= 3 and not _is_ordinary(cleaned):
            parts.add(cleaned)
        parts.update(p for p in re.split(r"[\s.,]+", cleaned) if len(p) >= 3 and not _is_ordinary(p))
    return sorted(parts, key=len, reverse=True)


def _name_sub(hide: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    """Replace the leading words of a captured "name" that are not ordinary words."""

    def sub(match: re.Match[str]) -> str:
        name = match.group("name")
        cut = 0
        for word in re.finditer(r"\S+", name):
            if word.group().lower() in _COMMON_WORDS:
                break
            cut = word.end()
        if not cut:
            return match.group(0)
        return match.group("lead") + hide(PLACEHOLDERS["name"]) + name[cut:]

    return sub


def redact(text: str | None, names: Iterable[str | None] = ()) -> str:
    """``text`` without e-mail addresses, NIKs, phone numbers and the citizen's own name(s).

    ``names`` are names known to be the citizen's (the contact's display name,
    an Open311 first/last name); they are removed wherever they appear, except
    inside a street or place name.
    """
    if not text:
        return ""
    aside = _SetAside()
    hide = aside.hide
    out = normalise(text)
    out = _EMAIL.sub(lambda m: hide(PLACEHOLDERS["email"]), out)
    for pattern in _KEEP_PATTERNS:
        out = pattern.sub(lambda m: hide(m.group(0)), out)
    out = _set_aside_places(out, hide)
    out = _redact_cued_numbers(out, hide)
    spans = [
        (m.start, _close_bracket(out, m.start, m.end))
        for m in phonenumbers.PhoneNumberMatcher(out, "ID", leniency=phonenumbers.Leniency.VALID)
    ]
    for start, end in reversed(spans):
        out = out[:start] + hide(PLACEHOLDERS["phone"]) + out[end:]
    out = _DIGIT_RUN.sub(lambda run: _redact_digit_run(run, hide), out)
    for part in _name_parts(names):
        out = re.sub(
            r"(?<!\w)" + re.escape(part) + r"(?!\w)",
            lambda m: hide(PLACEHOLDERS["name"]),
            out,
            flags=re.IGNORECASE,
        )
    for pattern in (_NAME_LEADS, _SAYA, _BERNAMA):
        out = pattern.sub(_name_sub(hide), out)
    out = aside.restore(out)
    # "[nama disamarkan] [nama disamarkan]" from a name removed part by part reads as one.
    placeholder = re.escape(PLACEHOLDERS["name"])
    return re.sub(rf"{placeholder}(?:\s+{placeholder})+", PLACEHOLDERS["name"], out)


def initials(name: str | None) -> str | None:
    """ "Budi Santoso" -> "B. S.": how a public (non-anonymous) reporter is shown."""
    if not name:
        return None
    letters = [w[0].upper() + "." for w in name.split() if w and w[0].isalpha()]
    return " ".join(letters[:3]) or None
