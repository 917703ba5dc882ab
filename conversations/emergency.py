"""Reading a message as an emergency, so that the numbers to call come before any question.

A complaint channel is not an emergency service, but citizens use the number they
know: "rumah saya kebakaran", "saya mau bunuh diri". Those get 112 (and the
service numbers) first, then the intake goes on as usual. The phrases, the
numbers and what calls a phrase off live in config/emergency.yaml; this module
only matches them, as a pure function of the text.

Matching is on whole words after the text is normalised (case, punctuation,
stretched letters "tolooong", SMS shorthand, common misspellings, and one typo in
long words). Near-misses are the real risk: a citizen told to call 112 about a
dead street light learns to skip the message that matters. Each rule therefore
has ``except`` phrases that turn a match into something else ("alat pemadam
kebakaran"), ``unless`` phrases that call the whole message off ("bulan lalu",
"rawan"), companions it needs ``near`` it ("anak tenggelam", not "jalan
tenggelam"), and cries for help ("TOLONG") that count only as the whole message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conversations.categorize import tokens as shorthand_tokens
from conversations.keywords import edit_distance_at_most_one

if TYPE_CHECKING:
    from conversations.snapshot import ConfigSnapshot

_STRETCHED = re.compile(r"([a-z])\1{2,}")  # "tolooong" -> "tolong"
_NOT_WORD = re.compile(r"[^a-z0-9]+")

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Emergency:
    """What a message reads as: its ``kind`` (fire, self_harm, ...), the text key to reply with,
    the phrase that made it one, and whether the complaint should be kept off the public page."""

    kind: str
    reply: str
    phrase: str
    private: bool = False


@dataclass(frozen=True)
class _Rule:
    kind: str
    reply: str
    phrases: tuple[Phrase, ...]
    excepted: tuple[Phrase, ...] = ()
    unless: tuple[Phrase, ...] = ()
    near: tuple[Phrase, ...] = ()
    before: bool = False
    window: int = 6
    alone: bool = False
    private: bool = False


@dataclass(frozen=True)
class EmergencyRules:
    """config/emergency.yaml, compiled once per snapshot."""

    rules: tuple[_Rule, ...]
    spellings: dict[str, tuple[str, ...]]
    filler: frozenset[str]
    typo_min_length: int
    not_typos: frozenset[str]
    numbers: dict[str, str]
    repeat_after_seconds: int
    # The phrase words a typo may stand for, by each one-letter deletion of them: a word one
    # edit away shares a deletion with them, so only those few are compared letter by letter.
    typo_index: dict[str, frozenset[str]]
    shorthand: Mapping[str, str]

    @classmethod
    def from_config(cls, data: Mapping[str, Any], shorthand: Mapping[str, str]) -> EmergencyRules:
        """Compile the parsed file; ``shorthand`` (conversation.yaml) is expanded as in any text."""
        return _build(dict(data), shorthand)


def numbers(config: ConfigSnapshot) -> dict[str, str]:
    """The numbers the texts name ({general}, {police}, ...), as the deployer set them."""
    return dict(config.emergency.numbers)


def repeat_after_seconds(config: ConfigSnapshot) -> int:
    return config.emergency.repeat_after_seconds


def _flatten(items: Any) -> list[str]:
    """YAML lists, with lists merged in by anchors (``[*past, *habitual]``) flattened."""
    if items is None:
        return []
    if isinstance(items, str):
        return [items]
    out: list[str] = []
    for item in items:
        out.extend(_flatten(item))
    return out


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _build(data: dict[str, Any], shorthand: Mapping[str, str]) -> EmergencyRules:
    """The file, compiled once per snapshot. A deployer's slip (a list for a mapping, a word for
    a number) drops that part, never the conversation: every message passes through here."""
    spellings = {
        str(k).lower(): tuple(_NOT_WORD.sub(" ", str(v).lower()).split())
        for k, v in _mapping(data.get("spellings")).items()
    }

    def phrases(items: Any) -> tuple[Phrase, ...]:
        out = []
        for item in _flatten(items):
            words = tuple(_words(item, spellings, shorthand))
            if words:
                out.append(words)
        return tuple(out)

    rules = []
    raw_rules = data.get("rules")
    for raw in raw_rules if isinstance(raw_rules, list) else ():
        if not isinstance(raw, dict) or not raw.get("kind"):
            continue
        rules.append(
            _Rule(
                kind=str(raw["kind"]),
                reply=str(raw.get("reply") or "general"),
                phrases=phrases(raw.get("phrases")),
                excepted=phrases(raw.get("except")),
                unless=phrases(raw.get("unless")),
                near=phrases(raw.get("near")),
                before=bool(raw.get("before", False)),
                window=_number(raw.get("window"), 6),
                alone=bool(raw.get("alone", False)),
                private=bool(raw.get("private", False)),
            )
        )
    every = (p for r in rules for p in (*r.phrases, *r.excepted, *r.unless, *r.near))
    typo_min = _number(data.get("typo_min_length"), 8)
    index: dict[str, set[str]] = {}
    for word in {w for phrase in every for w in phrase if len(w) >= typo_min}:
        for variant in _deletions(word):
            index.setdefault(variant, set()).add(word)
    return EmergencyRules(
        typo_index={k: frozenset(v) for k, v in index.items()},
        rules=tuple(rules),
        spellings=spellings,
        filler=frozenset(w for f in _flatten(data.get("filler")) for w in _words(f, spellings, shorthand)),
        typo_min_length=typo_min,
        not_typos=frozenset(str(w).lower() for w in _flatten(data.get("not_typos"))),
        numbers={str(k): str(v) for k, v in _mapping(data.get("numbers")).items()},
        repeat_after_seconds=_number(data.get("repeat_after_seconds"), 600),
        shorthand=dict(shorthand),
    )


def _deletions(word: str) -> set[str]:
    """``word`` and every word made by dropping one of its letters."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def _typo_of(word: str, config: EmergencyRules) -> set[str]:
    """The phrase words ``word`` is one typo away from."""
    candidates = {c for v in _deletions(word) for c in config.typo_index.get(v, ())}
    return {c for c in candidates if edit_distance_at_most_one(word, c)}


def _words(text: str, spellings: Mapping[str, tuple[str, ...]], shorthand: Mapping[str, str]) -> list[str]:
    lowered = _STRETCHED.sub(r"\1", text.lower())
    lowered = _NOT_WORD.sub(" ", lowered)  # "laki-laki", "kejang-kejang", "KDRT!!" -> words
    out: list[str] = []
    for word in shorthand_tokens(lowered, shorthand):
        out.extend(spellings.get(word, (word,)))
    return out


def normalize_words(config: ConfigSnapshot, text: str) -> list[str]:
    """The words ``text`` is matched on: lower case, no punctuation, stretched letters
    squeezed, SMS shorthand and the configured misspellings written out."""
    return _words(text, config.emergency.spellings, config.shorthand)


class _Text:
    """A message's words, each with the phrase words it may stand for (itself, or one typo away),
    indexed by word so that a phrase is only tried where its first word stands."""

    def __init__(self, words: list[str], config: EmergencyRules) -> None:
        self.size = len(words)
        self.words = words
        self.alternatives: list[frozenset[str]] = []
        self.where: dict[str, list[int]] = {}
        for index, word in enumerate(words):
            options = {word}
            if len(word) >= config.typo_min_length and word not in config.not_typos:
                options.update(_typo_of(word, config))
            self.alternatives.append(frozenset(options))
            for option in options:
                self.where.setdefault(option, []).append(index)

    def occurrences(self, phrase: Phrase) -> list[tuple[int, int]]:
        """(start, end) of every place ``phrase`` stands."""
        size = len(phrase)
        return [
            (start, start + size)
            for start in self.where.get(phrase[0], ())
            if start + size <= self.size
            and all(phrase[i] in self.alternatives[start + i] for i in range(1, size))
        ]

    def spans(self, phrases: Iterable[Phrase]) -> list[tuple[int, int]]:
        return [span for phrase in phrases for span in self.occurrences(phrase)]


def _rule_matches(rule: _Rule, text: _Text, config: EmergencyRules) -> str | None:
    """The phrase of ``rule`` found in ``text``, or None when there is none or it is called off."""
    found = [(phrase, span) for phrase in rule.phrases for span in text.occurrences(phrase)]
    if not found or (rule.unless and text.spans(rule.unless)):
        return None
    excepted = text.spans(rule.excepted)
    near = text.spans(rule.near) if rule.near else []
    for phrase, (start, end) in found:
        if any(s < end and start < e for s, e in excepted):
            continue
        if rule.alone and not _alone(text, phrase, config):
            continue
        if rule.near and not any(_is_near(rule, start, end, s, e) for s, e in near):
            continue
        return " ".join(phrase)
    return None


def _is_near(rule: _Rule, start: int, end: int, near_start: int, near_end: int) -> bool:
    if near_start < end and start < near_end:
        return False  # the companion is the phrase itself
    if rule.before:
        return near_end <= start and start - near_end < rule.window
    gap = start - near_end if near_end <= start else near_start - end
    return gap < rule.window


def _alone(text: _Text, phrase: Phrase, config: EmergencyRules) -> bool:
    """The message is ``phrase`` (once or repeated) and filler words ("tolong pak!!")."""
    covered = [False] * text.size
    for start, end in text.occurrences(phrase):
        for i in range(start, end):
            covered[i] = True
    return all(c or w in config.filler for c, w in zip(covered, text.words, strict=True))


def detect(snapshot: ConfigSnapshot, text: str) -> Emergency | None:
    """What emergency ``text`` reads as, or None. The first matching rule (config order) wins."""
    config = snapshot.emergency
    words = _words(text or "", config.spellings, config.shorthand)
    if not words:
        return None
    indexed = _Text(words, config)
    for rule in config.rules:
        phrase = _rule_matches(rule, indexed, config)
        if phrase is not None:
            return Emergency(kind=rule.kind, reply=rule.reply, phrase=phrase, private=rule.private)
    return None
