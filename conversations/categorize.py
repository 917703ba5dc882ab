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
from typing import TYPE_CHECKING

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
    """
    conf = config.conversation.get("location") or {}
    preps = {str(w).lower() for w in conf.get("prepositions") or ()}
    places = {str(w).lower() for w in conf.get("places") or ()}
    areas = {str(w).lower() for w in conf.get("areas") or ()}
    abbreviations = {str(w).lower() for w in conf.get("abbreviations") or ()}
    stop_words = {str(w).lower() for w in conf.get("stop_words") or ()}
    not_names = stop_words | {str(w).lower() for w in conf.get("not_names") or ()}
    max_length = int(conf.get("max_length") or 100)
    address_words = places | areas | abbreviations
    table = config.areas

    spans = _word_spans(text)
    words = [word for _, _, word in spans]
    cased = _writer_uses_capitals(words, abbreviations)

    def bare(word: str) -> str:
        return re.sub(r"[^\w/-]", "", word.lower())

    def capitalized(word: str) -> bool:
        return word[:1].isupper()

    def name_follows(index: int) -> bool:
        """Whether the words from ``index`` name an area rather than go on about the office."""
        if index >= len(spans) or bare(words[index]) in not_names:
            return False
        if cased and capitalized(words[index]):
            return True
        if not table.kecamatan:
            return True  # no area list: only the stop words can tell
        return names_an_area(" ".join(words[index : index + 3]), table)

    start_index: int | None = None
    for i, word in enumerate(words):
        w = bare(word)
        if w in preps and i + 2 < len(spans):
            following = bare(words[i + 1])
            level = marker_level(following)
            named = bare(words[i + 2]) not in not_names and (not level or name_follows(i + 2))
            if (following in places or level) and named:
                start_index = i + 1
                break
        level = marker_level(w)
        named = i + 1 < len(spans) and bare(words[i + 1]) not in not_names
        if (w in areas or level) and named and (not level or name_follows(i + 1)):
            start_index = i
            break
    if start_index is None:
        return None
    last = start_index
    for j in range(start_index, len(spans)):
        word = words[j]
        w = bare(word)
        if j > start_index:
            previous = words[j - 1]
            if j > start_index + 1 and w in stop_words:
                break
            more_address = w in address_words or marker_level(w) or (cased and capitalized(word))
            if previous.endswith(",") and not more_address:
                break  # "jl dago atas, menutup jalan"
            name_done = capitalized(previous) or any(c.isdigit() for c in previous)
            if (
                cased
                and j > start_index + 1
                and name_done
                and not capitalized(word)
                and not any(c.isdigit() for c in word)
                and w not in address_words
                and not marker_level(w)
                and not (w in preps and j + 1 < len(words) and bare(words[j + 1]) in places)
            ):
                break  # "Jalan Melati setiap hujan"; but "Jl. Dago depan sekolah" goes on
        last = j
        ends_sentence = re.search(r"[!?;\n]$", word) or (
            word.endswith(".")
            and w not in abbreviations
            and not re.fullmatch(r"\d+\.?", word)
            and not _initial_or_title(word, words[j + 1] if j + 1 < len(words) else "")
        )
        if ends_sentence and j > start_index:
            break
    phrase = text[spans[start_index][0] : spans[last][1]].strip(" ,;:!?")
    if phrase.endswith(".") and bare(words[last]) not in abbreviations:
        phrase = phrase[:-1]
    if len(phrase) < 4:
        return None
    if len(phrase) > max_length:
        phrase = phrase[:max_length].rsplit(" ", 1)[0]
    return phrase


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
