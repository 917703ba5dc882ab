"""Reading a complaint: which category it is about and where it happened.

Citizens rarely name a category; they describe what they see ("jln rsk dpn
pasar"). Shorthand is expanded first (config/conversation.yaml), then the evidence
for each category is weighed (conversations/routing_score.py, config/categories.yaml). A place phrase
("di Jl. Merdeka no 5") is cut out of the description to fill the location and is
left out of the category lookup, so that a street name does not make every
complaint a road complaint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.catalog import CategoryConfig
from conversations.keywords import normalize
from conversations.places import marker_level, names_an_area

if TYPE_CHECKING:
    from conversations.snapshot import ConfigSnapshot

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def tokens(text: str, shorthand: Mapping[str, str]) -> list[str]:
    """Lower-case words with SMS shorthand expanded ("jln rsk" -> ["jalan", "rusak"])."""
    table = shorthand
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        out.extend(table.get(word, word).split())
    return out


def infer_category(config: ConfigSnapshot, text: str) -> str | None:
    """The category ``text`` is most clearly about, or None when nothing points anywhere.

    The evidence is weighed by conversations.routing_score (strong and weak phrases,
    patterns, words against); this is its best guess whenever a strong phrase names it,
    whatever the confidence, so that the citizen is not asked what the text already says
    (hints alone, "resah", still get the menu). Whether the guess is sure enough to
    route without the coordinator is decided when the ticket is filed.
    """
    from conversations.routing_score import score  # imports this module

    top = score(config, text, location="").top
    return top.category if top and top.named else None


def category_from_answer(config: ConfigSnapshot, text: str, language: str) -> str | None:
    """A typed answer to "which category?": a code, a name, or a keyword."""
    # "jln" names the road category: shorthand first, since "jalan" alone is no evidence.
    return (
        category_named(config, text)
        or category_named(config, " ".join(tokens(text, config.shorthand)))
        or infer_category(config, text)
    )


def category_named(config: ConfigSnapshot, text: str) -> str | None:
    """The category ``text`` names outright (its code, its name, the first word of its name)."""
    wanted = normalize(text)
    if not wanted:
        return None
    for category in config.catalog.categories:
        names = {normalize(category.code)} | {normalize(n) for n in category.names.values()}
        if wanted in names:
            return category.code
    for category in config.catalog.categories:
        first_words = {normalize(n).split(" ")[0] for n in category.names.values()}
        if wanted in first_words:
            return category.code
    return None


def category_title(category: CategoryConfig, language: str) -> str:
    return category.name(language)


@dataclass(frozen=True)
class _LocationWords:
    """The word lists of config/conversation.yaml ``location`` that find a place phrase, lower-cased."""

    prepositions: frozenset[str]
    places: frozenset[str]
    areas: frozenset[str]
    abbreviations: frozenset[str]
    stop_words: frozenset[str]
    not_names: frozenset[str]
    address_words: frozenset[str]
    max_length: int

    @classmethod
    def from_settings(cls, conf: dict[str, Any]) -> _LocationWords:
        def words(key: str) -> frozenset[str]:
            return frozenset(str(w).lower() for w in conf.get(key) or ())

        stop_words, places, areas, abbreviations = (
            words(k) for k in ("stop_words", "places", "areas", "abbreviations")
        )
        return cls(
            prepositions=words("prepositions"),
            places=places,
            areas=areas,
            abbreviations=abbreviations,
            stop_words=stop_words,
            not_names=stop_words | words("not_names"),
            address_words=places | areas | abbreviations,
            max_length=int(conf.get("max_length") or 100),
        )


def _bare(word: str) -> str:
    return re.sub(r"[^\w/-]", "", word.lower())


def _capitalized(word: str) -> bool:
    return word[:1].isupper()


def _has_digit(word: str) -> bool:
    return any(c.isdigit() for c in word)


@dataclass(frozen=True)
class _Reading:
    """One text being read for a place: its words with their offsets, and how its writer writes."""

    text: str
    spans: list[tuple[int, int, str]]
    words: list[str]
    cased: bool
    lists: _LocationWords
    table: Any  # conversations.places.AreaTable

    @classmethod
    def of(cls, text: str, lists: _LocationWords, table: Any) -> _Reading:
        spans = _word_spans(text)
        words = [word for _, _, word in spans]
        return cls(text, spans, words, _writer_uses_capitals(words, set(lists.abbreviations)), lists, table)

    def bare(self, index: int) -> str:
        return _bare(self.words[index]) if index < len(self.words) else ""

    def name_follows(self, index: int) -> bool:
        """Whether the words from ``index`` name an area rather than go on about the office."""
        if index >= len(self.spans) or self.bare(index) in self.lists.not_names:
            return False
        if self.cased and _capitalized(self.words[index]):
            return True
        if not self.table.kecamatan:
            return True  # no area list: only the stop words can tell
        return names_an_area(" ".join(self.words[index : index + 3]), self.table)


def _place_after_preposition(reading: _Reading, i: int) -> bool:
    """ "di jalan Merdeka", "dekat kelurahan Sukajadi": a preposition, a place word, then a name."""
    lists = reading.lists
    if reading.bare(i) not in lists.prepositions or i + 2 >= len(reading.spans):
        return False
    following = reading.bare(i + 1)
    level = marker_level(following)
    named = reading.bare(i + 2) not in lists.not_names and (not level or reading.name_follows(i + 2))
    return bool((following in lists.places or level) and named)


def _area_word_with_name(reading: _Reading, i: int) -> bool:
    """ "Kelurahan Sukajadi", "RT 05": an area word followed by its name (not by "saat mengurus KTP")."""
    w = reading.bare(i)
    level = marker_level(w)
    named = i + 1 < len(reading.spans) and reading.bare(i + 1) not in reading.lists.not_names
    return bool((w in reading.lists.areas or level) and named and (not level or reading.name_follows(i + 1)))


def _phrase_start(reading: _Reading) -> int | None:
    """The index of the phrase's first word (the place word after a preposition), or None."""
    for i in range(len(reading.words)):
        if _place_after_preposition(reading, i):
            return i + 1
        if _area_word_with_name(reading, i):
            return i
    return None


def _more_address(reading: _Reading, j: int) -> bool:
    word, w = reading.words[j], reading.bare(j)
    return bool(w in reading.lists.address_words or marker_level(w) or (reading.cased and _capitalized(word)))


def _plain_word_after_name(reading: _Reading, start: int, j: int) -> bool:
    """ "Jalan Melati setiap hujan": in a cased text, an ordinary lower-case word after a name ends it;
    but "Jl. Dago depan sekolah" goes on (a preposition before another place word)."""
    word, previous, w = reading.words[j], reading.words[j - 1], reading.bare(j)
    lists = reading.lists
    name_done = _capitalized(previous) or _has_digit(previous)
    return (
        reading.cased
        and j > start + 1
        and name_done
        and not _capitalized(word)
        and not _has_digit(word)
        and w not in lists.address_words
        and not marker_level(w)
        and not (
            w in lists.prepositions and j + 1 < len(reading.words) and reading.bare(j + 1) in lists.places
        )
    )


def _clause_starts(reading: _Reading, start: int, j: int) -> bool:
    """Whether word ``j`` (after the phrase's first) no longer belongs to the place."""
    if j > start + 1 and reading.bare(j) in reading.lists.stop_words:
        return True
    if reading.words[j - 1].endswith(",") and not _more_address(reading, j):
        return True  # "jl dago atas, menutup jalan"
    return _plain_word_after_name(reading, start, j)


def _ends_sentence(reading: _Reading, j: int) -> bool:
    word = reading.words[j]
    following = reading.words[j + 1] if j + 1 < len(reading.words) else ""
    return bool(
        re.search(r"[!?;\n]$", word)
        or (
            word.endswith(".")
            and reading.bare(j) not in reading.lists.abbreviations
            and not re.fullmatch(r"\d+\.?", word)
            and not _initial_or_title(word, following)
        )
    )


def _phrase_end(reading: _Reading, start: int) -> int:
    """The index of the phrase's last word: before a new clause, or at the end of the sentence."""
    last = start
    for j in range(start, len(reading.spans)):
        if j > start and _clause_starts(reading, start, j):
            break
        last = j
        if j > start and _ends_sentence(reading, j):
            break
    return last


def _trimmed(reading: _Reading, start: int, last: int) -> str | None:
    """The phrase's text without trailing punctuation, cut at a word boundary to ``max_length``;
    None when too short to be a place."""
    phrase = reading.text[reading.spans[start][0] : reading.spans[last][1]].strip(" ,;:!?")
    if phrase.endswith(".") and reading.bare(last) not in reading.lists.abbreviations:
        phrase = phrase[:-1]
    if len(phrase) < 4:
        return None
    max_length = reading.lists.max_length
    if len(phrase) > max_length:
        phrase = phrase[:max_length].rsplit(" ", 1)[0]
    return phrase


def extract_location(config: ConfigSnapshot, text: str) -> str | None:
    """A place phrase inside ``text`` ("di Jl. Merdeka No. 5, Kel. Sukajadi"), or None.

    The phrase starts at a preposition followed by a place word (jalan, gang,
    pasar...) or at an area word (kelurahan, RT...). It ends at the end of the
    sentence, at a word that starts a new clause ("sudah", "setiap", "tolong"), at a
    comma not followed by more address ("..., menutup jalan"), or, in a text whose
    writer uses capitals, at the first ordinary lower-case word after a capitalized
    name ("Jalan Melati setiap hujan"). "Kelurahan" or "kecamatan" is also the office
    ("di kelurahan saat mengurus KTP"): it starts a place only when a name follows,
    one of the city's areas (config/areas.yaml) or, in a cased text, a capitalized word.
    Each of these is a named step below (`_phrase_start`, `_phrase_end`, `_trimmed`).
    """
    reading = _Reading.of(
        text, _LocationWords.from_settings(config.conversation.get("location") or {}), config.areas
    )
    start = _phrase_start(reading)
    if start is None:
        return None
    return _trimmed(reading, start, _phrase_end(reading, start))


def _word_spans(text: str) -> list[tuple[int, int, str]]:
    """Whitespace-separated words with their offsets; "kel.sukaluyu" is two words."""
    spans: list[tuple[int, int, str]] = []
    for match in re.finditer(r"\S+", text):
        word, offset = match.group(0), match.start()
        if re.match(r"[A-Za-z]+\.[A-Za-z]", word):
            cut = word.index(".") + 1
            spans.append((offset, offset + cut, word[:cut]))
            spans.append((offset + cut, match.end(), word[cut:]))
        else:
            spans.append((offset, match.end(), word))
    return spans


def _writer_uses_capitals(words: list[str], abbreviations: set[str]) -> bool:
    """Whether capitals carry meaning: some word other than a sentence's first has one.

    Phones capitalize the first word by themselves, and some citizens write in all caps;
    in neither case does a lower-case word say "not a name".
    """
    if not any(c.islower() for w in words for c in w):
        return False
    sentence_start = True
    for word in words:
        if not sentence_start and any(c.isupper() for c in word):
            return True
        ends = re.search(r"[!?]$", word) or (
            word.endswith(".") and word.lower().strip(".") not in abbreviations
        )
        sentence_start = bool(ends)
    return False


def _initial_or_title(word: str, following: str) -> bool:
    """ "H." or "Ir." before a capitalized word is part of a name ("Jl. Ir. H. Juanda"), not an end."""
    letters = word.rstrip(".")
    return letters.isalpha() and len(letters) <= 3 and letters[:1].isupper() and following[:1].isupper()


def without_location(text: str, location: str | None) -> str:
    """``text`` with the place phrase removed, for category lookup."""
    if not location:
        return text
    return text.replace(location, " ")
