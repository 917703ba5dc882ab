"""Where, as codes: a citizen's free-text place matched to the city's kecamatan and kelurahan.

Citizens write "kel. sukaluyuu", "kec ujung berung", "kelsekejati" or just "cicaheum".
An agency, a statistic or an Open311 client wants "32.73.18.1002". This module holds
the city's area list (config/areas.yaml, parsed by `AreaTable.from_config`) and finds
the kecamatan and kelurahan a text names, tolerating abbreviations, missing spaces and
one or two typos (Damerau-Levenshtein distance via rapidfuzz).

Rules, in the order they matter:

* A name right after "kel."/"kelurahan"/"ds."/"desa" is read as a kelurahan, after
  "kec."/"kecamatan" as a kecamatan; citizens mix them up, so the other level is still
  accepted, only less preferred. An unmarked name that is both (Batununggal) is read as
  the kecamatan.
* Words after a street word (jl., jalan, gang) are a street name, not an area: "Jl.
  Merdeka" is not kelurahan Merdeka.
* Short names must be spelled exactly (a typo in "Dago" is another word); longer ones may
  have one or two typos. The closest match wins, then the longest name ("Cipadung Kulon"
  over "Cipadung").
* A kelurahan name found in two kecamatan is resolved by a kecamatan mention; without
  one the match stays at the kecamatan level when both are in the same kecamatan, and is
  no match otherwise. A wrong guess routes a complaint to the wrong office; no guess
  leaves it with the coordinator.

Pure: no I/O; the table is passed in (built into the configuration snapshot).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein

KELURAHAN = "kelurahan"
KECAMATAN = "kecamatan"

# Words that say which level the next name is. Indonesian administrative words, the same
# in every city, so they live here rather than in a deployer's file.
_KELURAHAN_MARKERS = frozenset({"kelurahan", "kel", "kelur", "lurah", "desa", "ds", "kalurahan"})
_KECAMATAN_MARKERS = frozenset({"kecamatan", "kec", "kcm", "kcmtn", "camat"})
# Prefixes a citizen glues to the name ("kelsekejati", "kec.coblong" once the dot is lost).
_GLUED_PREFIXES = (
    ("kelurahan", KELURAHAN),
    ("kecamatan", KECAMATAN),
    ("desa", KELURAHAN),
    ("kel", KELURAHAN),
    ("kec", KECAMATAN),
    ("ds", KELURAHAN),
)
# After these, the next words name a street, not an area.
_STREET_WORDS = frozenset({"jl", "jln", "jalan", "gang", "gg", "lorong", "lr"})
# ...until one of these (or punctuation, a number, a marker) starts the next part.
_STREET_END = frozenset(
    {"no", "nomor", "rt", "rw", "blok", "di", "dekat", "dkt", "depan", "dpn", "samping", "belakang"}
    | {"seberang", "sebelah", "sekitar", "daerah", "wilayah", "kawasan", "arah", "ke", "dari"}
)
_STREET_MAX_WORDS = 4
_MAX_NAME_WORDS = 3
_TOKEN = re.compile(r"[a-z0-9]+|[,;.!?/()]")


@dataclass(frozen=True)
class Kelurahan:
    code: str
    name: str
    kecamatan_code: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kecamatan:
    code: str
    name: str
    kelurahan: tuple[Kelurahan, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class AreaTable:
    """The city's kecamatan, each with its kelurahan (desa included), as config/areas.yaml lists them."""

    city: str = ""
    code: str = ""
    kecamatan: tuple[Kecamatan, ...] = ()
    #: Every spelling of every area, worked out once per table (the table is built once per
    #: configuration snapshot), not on each message.
    entries: tuple[_Entry, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(_entries(self)))

    @classmethod
    def from_config(cls, doc: Any) -> AreaTable:
        """Parse config/areas.yaml's content; entries without a code or a name are skipped."""
        if not isinstance(doc, Mapping):
            return cls()
        districts: list[Kecamatan] = []
        for item in doc.get("kecamatan") or ():
            if not isinstance(item, Mapping) or not item.get("code") or not item.get("name"):
                continue
            code = str(item["code"])
            villages = tuple(
                Kelurahan(str(v["code"]), str(v["name"]), code, _names(v.get("aliases")))
                for v in item.get("kelurahan") or ()
                if isinstance(v, Mapping) and v.get("code") and v.get("name")
            )
            districts.append(Kecamatan(code, str(item["name"]), villages, _names(item.get("aliases"))))
        return cls(str(doc.get("city") or ""), str(doc.get("code") or ""), tuple(districts))

    def kecamatan_by_code(self, code: str | None) -> Kecamatan | None:
        return next((k for k in self.kecamatan if k.code == code), None)

    def kelurahan_by_code(self, code: str | None) -> Kelurahan | None:
        return next((v for k in self.kecamatan for v in k.kelurahan if v.code == code), None)


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or () if v)


@dataclass(frozen=True)
class AreaMatch:
    """The kecamatan (and kelurahan, when sure) a text names; score 1.0 is an exact spelling."""

    kecamatan: str
    kecamatan_code: str
    kelurahan: str | None
    kelurahan_code: str | None
    score: float

    def as_data(self) -> dict[str, Any]:
        """The shape kept in ticket.data["area"]."""
        return {
            "kecamatan": self.kecamatan,
            "kecamatan_code": self.kecamatan_code,
            "kelurahan": self.kelurahan,
            "kelurahan_code": self.kelurahan_code,
            "score": self.score,
        }


def compact(text: str) -> str:
    """Lower-case letters and digits only: "Cihaur Geulis" and "cihaurgeulis" compare equal."""
    return "".join(re.findall(r"[a-z0-9]+", text.lower()))


def allowed_typos(name: str, marked: bool) -> int:
    """How many typos a name of this length tolerates; unmarked short names none."""
    length = len(name)
    if length <= 4 or (not marked and length <= 5):
        return 0
    return 1 if length <= 7 else 2


def marker_level(word: str) -> str | None:
    """KELURAHAN or KECAMATAN when ``word`` (bare, lower case) is a level word, typos included."""
    if word in _KELURAHAN_MARKERS:
        return KELURAHAN
    if word in _KECAMATAN_MARKERS:
        return KECAMATAN
    if len(word) >= 7:
        if DamerauLevenshtein.distance(word, "kelurahan", score_cutoff=2) <= 2:
            return KELURAHAN
        if DamerauLevenshtein.distance(word, "kecamatan", score_cutoff=2) <= 2:
            return KECAMATAN
    return None


@dataclass(frozen=True)
class _Entry:
    level: str
    name: str
    spelling: str  # compacted name or alias
    kecamatan: Kecamatan
    kelurahan: Kelurahan | None


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    distance: int
    rank: int  # 0 when the level agrees with the marker (or an unmarked kecamatan)
    entry: _Entry

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.distance, self.rank, -len(self.entry.spelling), self.start)


def _entries(table: AreaTable) -> list[_Entry]:
    out: list[_Entry] = []
    for district in table.kecamatan:
        for spelling in {compact(n) for n in (district.name, *district.aliases)}:
            out.append(_Entry(KECAMATAN, district.name, spelling, district, None))
        for village in district.kelurahan:
            for spelling in {compact(n) for n in (village.name, *village.aliases)}:
                out.append(_Entry(KELURAHAN, village.name, spelling, district, village))
    return [e for e in out if e.spelling]


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _is_word(token: str) -> bool:
    return token[0].isalnum()


def _candidates(tokens: Sequence[str], entries: Sequence[_Entry]) -> list[_Candidate]:
    """Every (token window, area) pair close enough to count."""
    marked: dict[int, str] = {}  # token index -> the level its marker announced
    skipped: set[int] = set()
    street_left = 0
    for i, token in enumerate(tokens):
        level = marker_level(token) if _is_word(token) else None
        if level:
            street_left = 0
            j = i + 1
            while j < len(tokens) and not _is_word(tokens[j]):
                j += 1
            marked[j] = level
            skipped.add(i)
        elif token in _STREET_WORDS:
            street_left = _STREET_MAX_WORDS
            skipped.add(i)
        elif street_left:
            if token == ".":  # noqa: S105 (a full stop, not a secret)
                continue  # "Jl." and "Jl. Ir. H. Juanda": the dot of an abbreviation
            if not _is_word(token) or token.isdigit() or token in _STREET_END:
                street_left = 0
            else:
                skipped.add(i)
                street_left -= 1
    found: list[_Candidate] = []
    for start in range(len(tokens)):
        for end in range(start + 1, min(start + _MAX_NAME_WORDS, len(tokens)) + 1):
            window = tokens[start:end]
            if any(not _is_word(t) or (start + k) in skipped for k, t in enumerate(window)):
                break
            found.extend(_window_candidates(start, end, "".join(window), marked.get(start), entries))
            if end == start + 1:
                for prefix, level in _GLUED_PREFIXES:
                    rest = window[0][len(prefix) :]
                    if window[0].startswith(prefix) and len(rest) >= 4 and not marker_level(window[0]):
                        found.extend(_window_candidates(start, end, rest, level, entries))
    return found


def _window_candidates(
    start: int, end: int, text: str, marker: str | None, entries: Sequence[_Entry]
) -> list[_Candidate]:
    out: list[_Candidate] = []
    for entry in entries:
        limit = allowed_typos(entry.spelling, marker is not None)
        if abs(len(entry.spelling) - len(text)) > limit:
            continue
        distance = DamerauLevenshtein.distance(text, entry.spelling, score_cutoff=limit)
        if distance > limit:
            continue
        agrees = entry.level == (marker or KECAMATAN)
        out.append(_Candidate(start, end, distance, 0 if agrees else 1, entry))
    return out


def _choose(candidates: list[_Candidate]) -> list[_Candidate]:
    """Best first, without overlaps; equally good readings of the same words are all kept."""
    chosen: list[_Candidate] = []
    for cand in sorted(candidates, key=lambda c: c.key):
        overlapping = [c for c in chosen if c.start < cand.end and cand.start < c.end]
        if not overlapping:
            chosen.append(cand)
        elif all(
            (c.start, c.end, c.distance, c.rank, len(c.entry.spelling))
            == (cand.start, cand.end, cand.distance, cand.rank, len(cand.entry.spelling))
            for c in overlapping
        ):
            chosen.append(cand)  # the same words read as two same-named areas: an ambiguity
    return chosen


def _score(candidate: _Candidate) -> float:
    return round(1 - candidate.distance / max(len(candidate.entry.spelling), 1), 2)


def _best(candidates: list[_Candidate]) -> list[_Candidate]:
    if not candidates:
        return []
    top = min(c.key[:2] for c in candidates)
    return [c for c in candidates if c.key[:2] == top]


def match_area(text: str | None, table: AreaTable) -> AreaMatch | None:
    """The kecamatan and kelurahan ``text`` names, or None when it names none or is ambiguous."""
    if not text or not table.kecamatan:
        return None
    chosen = _choose(_candidates(_tokens(text), table.entries))
    districts = _best([c for c in chosen if c.entry.level == KECAMATAN])
    villages = [c for c in chosen if c.entry.level == KELURAHAN]
    district_codes = {c.entry.kecamatan.code for c in districts}
    if districts:
        inside = _best([c for c in villages if c.entry.kecamatan.code in district_codes])
        if len({c.entry.kelurahan for c in inside}) == 1:
            return _result(inside[0], inside[0])
        if len(district_codes) == 1:
            return _result(districts[0], None)
        return None
    villages = _best(villages)
    if not villages:
        return None
    if len({c.entry.kelurahan for c in villages}) == 1:
        return _result(villages[0], villages[0])
    if len({c.entry.kecamatan.code for c in villages}) == 1:
        return _result(villages[0], None)  # two kelurahan of one kecamatan: the kecamatan is sure
    return None


def _result(decisive: _Candidate, village: _Candidate | None) -> AreaMatch:
    district = decisive.entry.kecamatan
    kelurahan = village.entry.kelurahan if village is not None else None
    return AreaMatch(
        kecamatan=district.name,
        kecamatan_code=district.code,
        kelurahan=kelurahan.name if kelurahan else None,
        kelurahan_code=kelurahan.code if kelurahan else None,
        score=_score(decisive),
    )


def names_an_area(text: str, table: AreaTable) -> bool:
    """Whether ``text`` (the words after "kelurahan"/"kecamatan") starts with a known area name.

    Tells "kelurahan Sukaluyu" (a place) from "kelurahan saat mengurus KTP" (the office).
    """
    if not table.kecamatan:
        return False
    words = [t for t in _tokens(text) if _is_word(t)][:_MAX_NAME_WORDS]
    return any(c.start == 1 for c in _candidates(["kel", *words], table.entries))
