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
from typing import Any

from conversations.keywords import normalize
from conversations.settings import Category, all_categories, conversation_settings, derived

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _shorthand() -> dict[str, str]:
    def build(settings: dict[str, Any]) -> dict[str, str]:
        table = settings.get("shorthand") or {}
        return {str(k).lower(): str(v).lower() for k, v in table.items()}

    result: dict[str, str] = derived("shorthand", conversation_settings(), build)
    return result


def tokens(text: str) -> list[str]:
    """Lower-case words with SMS shorthand expanded ("jln rsk" -> ["jalan", "rusak"])."""
    table = _shorthand()
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        out.extend(table.get(word, word).split())
    return out


def infer_category(text: str) -> str | None:
    """The category ``text`` is most clearly about, or None when nothing points anywhere.

    The evidence is weighed by conversations.routing_score (strong and weak phrases,
    patterns, words against); this is its best guess whenever a strong phrase names it,
    whatever the confidence, so that the citizen is not asked what the text already says
    (hints alone, "resah", still get the menu). Whether the guess is sure enough to
    route without the coordinator is decided when the ticket is filed.
    """
    from conversations.routing_score import score  # imports this module

    top = score(text, location="").top
    return top.category if top and top.named else None


def category_from_answer(text: str, language: str) -> str | None:
    """A typed answer to "which category?": a code, a name, or a keyword."""
    # "jln" names the road category: shorthand first, since "jalan" alone is no evidence.
    return category_named(text) or category_named(" ".join(tokens(text))) or infer_category(text)


def category_named(text: str) -> str | None:
    """The category ``text`` names outright (its code, its name, the first word of its name)."""
    wanted = normalize(text)
    if not wanted:
        return None
    for category in all_categories():
        names = {normalize(category.code)} | {normalize(n) for n in category.names.values()}
        if wanted in names:
            return category.code
    for category in all_categories():
        first_words = {normalize(n).split(" ")[0] for n in category.names.values()}
        if wanted in first_words:
            return category.code
    return None


def category_title(category: Category, language: str) -> str:
    return category.name(language)


def _location_settings() -> dict[str, Any]:
    return conversation_settings().get("location") or {}


def extract_location(text: str) -> str | None:
    """A place phrase inside ``text`` ("di Jl. Merdeka No. 5, Kel. Sukajadi"), or None.

    The phrase starts at a preposition followed by a place word (jalan, gang,
    pasar...) or at an area word (kelurahan, RT...), and runs to the end of the
    sentence or to a word that starts a new clause ("sudah", "sejak", "tolong").
    """
    conf = _location_settings()
    preps = {str(w).lower() for w in conf.get("prepositions") or ()}
    places = {str(w).lower() for w in conf.get("places") or ()}
    areas = {str(w).lower() for w in conf.get("areas") or ()}
    abbreviations = {str(w).lower() for w in conf.get("abbreviations") or ()}
    stop_words = {str(w).lower() for w in conf.get("stop_words") or ()}
    not_names = stop_words | {str(w).lower() for w in conf.get("not_names") or ()}
    max_length = int(conf.get("max_length") or 100)

    spans = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"[^\s]+", text)]

    def bare(word: str) -> str:
        return re.sub(r"[^\w/-]", "", word.lower())

    start_index: int | None = None
    for i, (_, _, word) in enumerate(spans):
        w = bare(word)
        followed_by_place = i + 2 < len(spans) and bare(spans[i + 1][2]) in places
        if w in preps and followed_by_place and bare(spans[i + 2][2]) not in not_names:
            start_index = i + 1
            break
        if w in areas and i + 1 < len(spans) and bare(spans[i + 1][2]) not in not_names:
            start_index = i
            break
    if start_index is None:
        return None
    pieces: list[str] = []
    for j in range(start_index, len(spans)):
        word = spans[j][2]
        w = bare(word)
        if j > start_index + 1 and w in stop_words:
            break
        pieces.append(word)
        ends_sentence = re.search(r"[!?;\n]$", word) or (
            word.endswith(".") and w not in abbreviations and not re.fullmatch(r"\d+\.?", word)
        )
        if ends_sentence and j > start_index:
            break
    phrase = " ".join(pieces).strip(" ,;:!?")
    if phrase.endswith(".") and bare(pieces[-1]) not in abbreviations:
        phrase = phrase[:-1]
    if len(phrase) < 4:
        return None
    if len(phrase) > max_length:
        phrase = phrase[:max_length].rsplit(" ", 1)[0]
    return phrase


def without_location(text: str, location: str | None) -> str:
    """``text`` with the place phrase removed, for category lookup."""
    if not location:
        return text
    return text.replace(location, " ")
