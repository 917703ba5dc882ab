"""Which category a complaint is about, weighed on evidence rather than the first keyword seen.

The old reader took the first keyword it met, and "jalan" is in almost every Indonesian
address, so street vendors, banners and noise all went to public works. Here every category
collects evidence from the text (config/categories.yaml): strong phrases (``keywords``), weak
hints (``weak``), phrase patterns (``patterns``) and words that count against it (``not``).
The place phrase ("di Jl. Merdeka No 5") is cut out first, and the generic words of
addresses (config/routing.yaml ``generic_words``) never count on their own.

The result is ranked suggestions, each with a confidence in 0..1 and the words that decided
it, so that the router can act only when it is sure (``threshold`` in config/routing.yaml)
and otherwise hand the coordinator its best three guesses with its reasons.

Pure: the rules are built once per configuration snapshot (`Rules` in `ConfigSnapshot.rules`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from conversations.categorize import extract_location, tokens

if TYPE_CHECKING:
    from conversations.snapshot import ConfigSnapshot

DEFAULT_THRESHOLD = 0.45
DEFAULT_WEIGHTS = {"keyword": 3.0, "weak": 1.0, "pattern": 3.0, "not": -4.0}
# Evidence worth this much (one strong phrase) makes a lone category fully trusted;
# less than that scales its confidence down (a single weak hint is a guess, not a route).
FULL_EVIDENCE = 3.0


@dataclass(frozen=True)
class Suggestion:
    """One candidate category, how sure the router is of it, and why."""

    category: str
    confidence: float
    score: float
    words: tuple[str, ...]
    # At least one strong phrase (not only hints or patterns): enough to skip asking the citizen.
    named: bool = False


@dataclass(frozen=True)
class Scoring:
    """Candidates best first (only those with positive evidence)."""

    suggestions: tuple[Suggestion, ...]

    @property
    def top(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None


@dataclass(frozen=True)
class _CategoryRules:
    code: str
    strong: tuple[tuple[str, ...], ...]
    weak: tuple[tuple[str, ...], ...]
    patterns: tuple[re.Pattern[str], ...]
    against: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Rules:
    """Everything the scorer needs, built once per config edit."""

    categories: tuple[_CategoryRules, ...]
    weights: Mapping[str, float]
    generic: frozenset[str]
    threshold: float
    suggestions: int
    # What in the config could not be used ("categories.yaml jalan.patterns[0]: ..."): a
    # deployer's typo must not stop complaints from being filed; it is reported instead.
    problems: tuple[str, ...] = ()

    @cached_property
    def phrases(self) -> tuple[tuple[int, float, tuple[str, ...], tuple[str, ...], bool], ...]:
        """Strong and weak phrases of all categories, longest first, then strong before weak:
        (length, weight, categories, words, strong). The order in which they claim words. A
        phrase that several categories list alike ("lampu padam": a power cut or a dark
        street) is one row naming them all, so that it counts for each of them."""
        rows: dict[tuple[tuple[str, ...], bool], list[str]] = {}
        for c in self.categories:
            for strong, group in ((True, c.strong), (False, c.weak)):
                for p in group:
                    codes = rows.setdefault((p, strong), [])
                    if c.code not in codes:
                        codes.append(c.code)
        table = [
            (len(p), self.weights["keyword"] if strong else self.weights["weak"], tuple(codes), p, strong)
            for (p, strong), codes in rows.items()
        ]
        table.sort(key=lambda row: (-row[0], -row[1]))
        return tuple(table)

    @cached_property
    def by_first_word(self) -> Mapping[str, tuple[int, ...]]:
        """Positions in ``phrases`` by their first word: a message is checked only against the
        phrases that can start at one of its words, not against all of them (hundreds, on
        every turn that files a draft)."""
        index: dict[str, list[int]] = {}
        for position, row in enumerate(self.phrases):
            index.setdefault(row[3][0], []).append(position)
        return {word: tuple(found) for word, found in index.items()}

    @cached_property
    def against_by_first_word(self) -> Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]:
        """The words against each category ((category, words)), by their first word."""
        index: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for c in self.categories:
            for phrase in c.against:
                index.setdefault(phrase[0], []).append((c.code, phrase))
        return {word: tuple(found) for word, found in index.items()}


def _norm_word(word: str) -> str:
    """One spelling per word: reduplication, typed ("sampah2") or written ("pohon-pohon",
    "pohon-pohonnya"), reads as the word itself ("sampah", "pohon", "pohonnya")."""
    # Plain tests, not regular expressions: this runs on every word of every message.
    if len(word) > 1 and word[-1] == "2" and "a" <= word[-2] <= "z":
        return word[:-1]
    if "-" in word:
        first, _, rest = word.partition("-")
        if first and (rest == first or (rest.startswith(first) and rest[len(first) :] in _POSSESSIVE)):
            return rest
    return word


def _phrase(text: str, shorthand: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(_norm_word(w) for w in tokens(text, shorthand))


def build_rules(categories_doc: Any, routing_doc: Any, shorthand: Mapping[str, str]) -> Rules:
    """Rules from the loaded categories.yaml and routing.yaml documents (phrases read with
    conversation.yaml's ``shorthand``, as the texts they are matched against are)."""
    routing_doc = routing_doc if isinstance(routing_doc, dict) else {}
    generic = frozenset(_norm_word(str(w).lower()) for w in routing_doc.get("generic_words") or ())
    weights = dict(DEFAULT_WEIGHTS)
    for key, value in (routing_doc.get("weights") or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            weights[str(key)] = float(value)

    def phrases(values: Any) -> tuple[tuple[str, ...], ...]:
        out = []
        for value in values or ():
            words = _phrase(str(value), shorthand)
            # A phrase made only of address words ("jalan", "gang") is no evidence.
            if words and not all(w in generic for w in words):
                out.append(words)
        return tuple(out)

    cats = []
    problems: list[str] = []
    items = categories_doc.get("categories", []) if isinstance(categories_doc, dict) else []
    for item in items:
        code = str(item.get("code", "")).strip()
        if not code:
            continue
        patterns = []
        for index, source in enumerate(item.get("patterns") or ()):
            try:
                patterns.append(re.compile(str(source)))
            except re.error as exc:
                problems.append(f"categories.yaml {code}.patterns[{index}]: {exc}")
        cats.append(
            _CategoryRules(
                code=code,
                strong=phrases(item.get("keywords")),
                weak=phrases(item.get("weak")),
                patterns=tuple(patterns),
                against=phrases(item.get("not")),
            )
        )
    try:
        threshold = float(routing_doc.get("threshold", DEFAULT_THRESHOLD))
    except (TypeError, ValueError):
        problems.append(f"routing.yaml threshold: not a number: {routing_doc.get('threshold')!r}")
        threshold = DEFAULT_THRESHOLD
    return Rules(
        categories=tuple(cats),
        weights=weights,
        generic=generic,
        threshold=threshold,
        suggestions=int(routing_doc.get("suggestions", 3)),
        problems=tuple(problems),
    )


# "jalannya" (Indonesian), "dalane", "lampune" (Javanese), "jalanna" (Sundanese): the thing
# itself, owned. Only on words of four letters or more, so short words keep their meaning.
_POSSESSIVE = ("nya", "ne", "na", "e")


def _possessive(word: str, base: str) -> bool:
    return len(base) >= 4 and any(word == base + end for end in _POSSESSIVE)


def _index(words: Sequence[str]) -> dict[str, list[int]]:
    """Where each word stands, filed also under its bare form ("jalannya" under "jalan"), so a
    phrase is looked for only where its first word is: a message is scored against hundreds
    of phrases on every turn that files a draft."""
    index: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        index.setdefault(word, []).append(i)
        for end in _POSSESSIVE:
            base = word[: -len(end)]
            if word.endswith(end) and len(base) >= 4:
                index.setdefault(base, []).append(i)
    return index


def _find(words: Sequence[str], phrase: tuple[str, ...], index: Mapping[str, list[int]]) -> list[int]:
    """Start positions of ``phrase`` in ``words`` (possessive endings read as the bare word)."""
    n = len(phrase)
    hits = []
    for start in sorted(set(index.get(phrase[0], ()))):
        if start + n > len(words):
            continue
        if all(
            w == p or _possessive(w, p) for w, p in zip(words[start + 1 : start + n], phrase[1:], strict=True)
        ):
            hits.append(start)
    return hits


def confidence(score: float, total: float) -> float:
    """How sure: the category's share of all evidence, scaled down while evidence is thin.

    ``score / (total + 1)`` is the share of the positive evidence (the +1 keeps a lone weak
    hint from looking certain); ``1 - exp(-score / FULL_EVIDENCE)`` grows with the amount
    of evidence. One strong phrase alone gives about 0.47; two agreeing ones about 0.74;
    two categories with equal evidence never pass 0.5. Calibration on the labelled set is in
    docs/routing.md.
    """
    if score <= 0:
        return 0.0
    share = score / (total + 1.0)
    amount = 1.0 - math.exp(-score / FULL_EVIDENCE)
    return round(min(1.0, share * amount), 3)


def _place_span(text: str, place: str, shorthand: Mapping[str, str]) -> tuple[list[str], int, int]:
    """The words of ``text`` and the range [start, end) of those that are the place phrase."""
    before, found, after = text.partition(place) if place else (text, "", "")
    if not found:
        words = [_norm_word(w) for w in tokens(text, shorthand)]
        return words, len(words), len(words)
    head = [_norm_word(w) for w in tokens(before, shorthand)]
    middle = [_norm_word(w) for w in tokens(found, shorthand)]
    # Any later repetition of the place is address too: cut it as before.
    tail = [_norm_word(w) for w in tokens(after.replace(place, " "), shorthand)]
    return head + middle + tail, len(head), len(head) + len(middle)


def score(
    config: ConfigSnapshot, text: str, location: str | None = None, rules: Rules | None = None
) -> Scoring:
    """Rank the categories ``text`` is about; ``location`` (else the one found in it) is ignored.

    Words of the place phrase never decide: a phrase counts only when at least one of its
    words lies outside it. It may end inside it, though: "lampu jalan di Jalan Katamso"
    is a street light even when the place phrase swallowed the "jalan" after "lampu".
    """
    rules = rules or config.rules
    place = location if location is not None else extract_location(config, text)
    words, place_start, place_end = _place_span(text, place or "", config.shorthand)
    body = words[:place_start] + words[place_end:]
    joined = " ".join(body)
    weights = rules.weights

    index = _index(words)
    used = [False] * len(words)
    found: dict[str, list[tuple[float, str]]] = {c.code: [] for c in rules.categories}
    named: set[str] = set()
    # Strong and weak phrases, longest first across all categories: a word used by a longer
    # phrase ("lampu jalan") is not counted again by a shorter one ("jalan ...").
    candidates = sorted({p for word in index for p in rules.by_first_word.get(word, ())})
    phrases = rules.phrases
    for position in candidates:
        length, weight, codes, phrase, strong = phrases[position]
        for start in _find(words, phrase, index):
            end = start + length
            if any(used[start:end]) or (start >= place_start and end <= place_end):
                continue
            for i in range(start, end):
                used[i] = True
            for code in codes:
                found[code].append((weight, " ".join(phrase)))
                if strong:
                    named.add(code)
    for c in rules.categories:
        for pattern in c.patterns:
            match = pattern.search(joined)
            if match:
                found[c.code].append((weights["pattern"], match.group(0).strip()))
    # Words against a category count once each, and not from inside the place phrase.
    against: set[tuple[str, tuple[str, ...]]] = set()
    for word in index:
        for code, phrase in rules.against_by_first_word.get(word, ()):
            if (code, phrase) in against:
                continue
            end = len(phrase)
            if any(not (place_start <= at and at + end <= place_end) for at in _find(words, phrase, index)):
                against.add((code, phrase))
                found[code].append((weights["not"], "-" + " ".join(phrase)))

    scores = {code: sum(w for w, _ in hits) for code, hits in found.items()}
    positive = {code: s for code, s in scores.items() if s > 0}
    total = sum(positive.values())
    ranked = sorted(positive, key=lambda code: -positive[code])
    suggestions = tuple(
        Suggestion(
            category=code,
            confidence=confidence(positive[code], total),
            score=positive[code],
            words=tuple(dict.fromkeys(word for _, word in found[code])),
            named=code in named,
        )
        for code in ranked
    )
    return Scoring(suggestions)


def threshold(rules: Rules) -> float:
    """The deployer's confidence threshold for routing without the coordinator."""
    return rules.threshold


def as_data(suggestion: Suggestion, agency: str | None, external: bool = False) -> dict[str, Any]:
    """A suggestion as stored on the ticket (``data["routing"]["suggestions"]``)."""
    return {
        "category": suggestion.category,
        "agency": agency,
        "external": external,
        "confidence": suggestion.confidence,
        "words": list(suggestion.words),
    }
