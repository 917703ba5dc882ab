"""Is this new complaint the same problem as an earlier one? The rules, without storage.

"Ikut melapor" (issue 20, part 1): ten citizens report one broken street light. When a
ticket is filed the gateway (gateway/tickets/supporters.py) gathers the recent tickets of
the same category and asks `score` about each: the same place (the same kelurahan code,
or pins within a set distance) and similar words (TF-IDF cosine over the routing's own
tokens: SMS shorthand expanded, "sampah2" read as "sampah", the place phrase left out so
that two reports of one street do not look alike for the street's name alone).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conversations.categorize import extract_location, tokens, without_location

if TYPE_CHECKING:
    from conversations.snapshot import ConfigSnapshot

#: Words too common in complaints to say two of them are about the same thing.
COMMON_WORDS = frozenset(
    [
        "di",
        "ke",
        "dari",
        "dan",
        "yang",
        "yg",
        "ini",
        "itu",
        "ada",
        "sudah",
        "sdh",
        "belum",
        "blm",
        "tidak",
        "tdk",
        "sangat",
        "sekali",
        "mohon",
        "tolong",
        "segera",
        "pak",
        "bu",
        "bapak",
        "ibu",
        "kami",
        "saya",
        "kita",
        "sejak",
        "lagi",
        "juga",
        "karena",
        "dengan",
        "untuk",
        "pada",
        "the",
        "a",
        "is",
        "of",
        "and",
        "to",
        "in",
        "at",
        "on",
        "please",
        "since",
        "for",
        "it",
        "this",
        "that",
    ]
)
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Place:
    """Where a ticket is: its kelurahan code (config/areas.yaml) and pin, each when known."""

    kelurahan: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def has_pin(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class Settings:
    days: int = 30
    distance_meters: float = 300.0
    min_similarity: float = 0.3
    max_candidates: int = 3
    #: Weight of the words in the score; the rest is how close the places are.
    text_weight: float = 0.7


def words(config: ConfigSnapshot, text: str) -> list[str]:
    """The words that say what a complaint is about (its place phrase and common words left out)."""
    place = extract_location(config, text)
    body = without_location(text, place) if place else text
    out = []
    for word in tokens(body, config.shorthand):
        word = word[:-1] if len(word) > 2 and word.endswith("2") else word
        if word not in COMMON_WORDS and len(word) > 1 and not word.isdigit():
            out.append(word)
    return out


def distance_meters(a: Place, b: Place) -> float | None:
    """Great-circle distance between two pins (haversine), None when either has none."""
    if not (a.has_pin and b.has_pin):
        return None
    assert a.latitude is not None and a.longitude is not None
    assert b.latitude is not None and b.longitude is not None
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dp, dl = p2 - p1, math.radians(b.longitude - a.longitude)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def closeness(a: Place, b: Place, settings: Settings) -> float | None:
    """1.0 for the same kelurahan, else how near the pins are (1 at the same spot, 0 at the limit);
    None: not the same place as far as we can tell."""
    if a.kelurahan and b.kelurahan and a.kelurahan == b.kelurahan:
        return 1.0
    meters = distance_meters(a, b)
    if meters is None or meters > settings.distance_meters:
        return None
    return 1.0 - meters / settings.distance_meters if settings.distance_meters > 0 else 1.0


def similarities(config: ConfigSnapshot, text: str, others: Sequence[str]) -> list[float]:
    """Cosine similarity of ``text`` to each of ``others`` over TF-IDF word weights.

    The document frequencies are those of this small set (the new complaint and its
    candidates): a word all of them share ("lampu") weighs less than one only two share
    ("tiang").
    """
    docs = [Counter(words(config, t)) for t in (text, *others)]
    count = len(docs)
    frequency: Counter[str] = Counter()
    for doc in docs:
        frequency.update(doc.keys())
    idf = {w: math.log((1 + count) / (1 + n)) + 1.0 for w, n in frequency.items()}

    def vector(doc: Mapping[str, int]) -> dict[str, float]:
        return {w: (1.0 + math.log(n)) * idf[w] for w, n in doc.items()}

    vectors = [vector(d) for d in docs]
    first = vectors[0]
    norm = math.sqrt(sum(v * v for v in first.values()))
    out = []
    for other in vectors[1:]:
        other_norm = math.sqrt(sum(v * v for v in other.values()))
        if not norm or not other_norm:
            out.append(0.0)
            continue
        dot = sum(weight * other.get(w, 0.0) for w, weight in first.items())
        out.append(round(dot / (norm * other_norm), 4))
    return out


@dataclass(frozen=True)
class Candidate:
    key: str  # the other ticket's tracking number
    text: str
    place: Place


def rank(
    config: ConfigSnapshot, text: str, place: Place, candidates: Sequence[Candidate], settings: Settings
) -> list[tuple[str, float]]:
    """The likely duplicates among ``candidates`` (already of the same category and recent),
    best first, as (tracking, score 0..1): the same place and similar words, both required."""
    near: list[tuple[Candidate, float]] = []
    for candidate in candidates:
        close = closeness(place, candidate.place, settings)
        if close is not None:
            near.append((candidate, close))
    if not near:
        return []
    found = []
    for (candidate, close), similar in zip(
        near, similarities(config, text, [c.text for c, _ in near]), strict=True
    ):
        if similar < settings.min_similarity:
            continue
        value = settings.text_weight * similar + (1 - settings.text_weight) * close
        found.append((candidate.key, round(value, 3)))
    found.sort(key=lambda pair: (-pair[1], pair[0]))
    return found[: settings.max_candidates]
