"""Recognising what a citizen typed: commands, menu answers, typos.

Citizens type on feature phones and in a hurry: case varies, punctuation trails,
one letter goes astray. Keywords therefore match case-insensitively and, when they
are four letters or longer, with one typo (a letter added, dropped, changed, or two
neighbours swapped). Command words that could also open a sentence ("STOP",
"BATAL") only count when they are the whole message, so a complaint is never
mistaken for an opt-out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_EDGE_PUNCT = re.compile(r"^[\s\W_]+|[\s\W_]+$", re.UNICODE)
_SPACES = re.compile(r"\s+")

# Keyword groups matched against the whole message.
WHOLE_MESSAGE = ("stop", "optin", "cancel", "help", "greeting", "yes", "no", "edit", "skip")


def normalize(value: str) -> str:
    """Lower case, single spaces, no punctuation at either end."""
    value = _SPACES.sub(" ", value.strip().lower())
    return _EDGE_PUNCT.sub("", value)


def edit_distance_at_most_one(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one edit (adjacent swaps count as one)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        if len(diffs) == 2:
            i, j = diffs
            return j == i + 1 and a[i] == b[j] and a[j] == b[i]
        return False
    if la > lb:
        a, b = b, a
    # b is one longer: deleting one letter of b gives a.
    return any(b[:i] + b[i + 1 :] == a for i in range(len(b)))


@dataclass(frozen=True)
class Command:
    """A recognised keyword: its group and whatever followed it."""

    name: str
    rest: str = ""


def _strip_command_slash(text: str) -> str:
    """Telegram commands ("/start@LaporBot args") read like plain keywords."""
    stripped = text.lstrip()
    if stripped.startswith("/"):
        first, _, rest = stripped[1:].partition(" ")
        first = first.split("@", 1)[0]
        return (first + " " + rest).strip()
    return text


def split_first_word(text: str) -> tuple[str, str, str]:
    """The first word (normalized), the separator after it, and the rest of the original text."""
    stripped = text.strip()
    match = re.match(r"([^\s#:,.!?]+)([\s#:,.!?]*)", stripped)
    if not match:
        return "", "", stripped
    return normalize(match.group(1)), match.group(2), stripped[match.end() :].strip()


@dataclass(frozen=True)
class KeywordTable:
    """The keyword groups of config/conversation.yaml, normalized once per snapshot."""

    groups: Mapping[str, list[str]]
    exempt: frozenset[str] = frozenset()
    typo_min_length: int = 4
    languages: Mapping[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> KeywordTable:
        table = settings.get("keywords") or {}
        return cls(
            groups={str(k): [normalize(str(w)) for w in v or ()] for k, v in table.items()},
            exempt=frozenset(normalize(str(w)) for w in settings.get("typo_exempt") or ()),
            typo_min_length=int(settings.get("typo_min_length", 4)),
            languages={str(k): list(v) for k, v in (settings.get("languages") or {}).items()},
        )

    def words(self, group: str) -> list[str]:
        return self.groups.get(group, [])

    def matches(self, word: str, candidates: list[str]) -> bool:
        """``word`` (already normalized) is one of ``candidates``, allowing one typo on long ones."""
        if word in candidates:
            return True
        if word in self.exempt or " " in word or not word.isalpha():
            return False
        return any(
            len(candidate) >= self.typo_min_length
            and " " not in candidate
            and edit_distance_at_most_one(word, candidate)
            for candidate in candidates
        )

    def is_keyword(self, text: str, group: str) -> bool:
        """The whole message is a keyword of ``group`` (e.g. "yes", "cancel")."""
        return self.matches(normalize(text), self.words(group))

    def lookup_word(self, text: str, table: Mapping[str, list[str]]) -> str | None:
        """Which key of ``table`` (key -> words) the whole ``text`` names, with typo tolerance."""
        word = normalize(text)
        if not word:
            return None
        for key, words in table.items():
            if word in [normalize(str(w)) for w in words]:
                return key
        for key, words in table.items():
            if self.matches(word, [normalize(str(w)) for w in words]):
                return key
        return None

    def parse(self, text: str, region_keyword: str | None = None) -> Command | None:
        """The command ``text`` carries, or None when it is ordinary text.

        A leading region keyword ("KTC ...") is reported as ``Command("region", rest)``.
        """
        text = _strip_command_slash(text)
        whole = normalize(text)
        if not whole:
            return None
        for group in WHOLE_MESSAGE:
            if self.matches(whole, self.words(group)):
                return Command(group)
        first, separator, rest = split_first_word(text)
        if region_keyword and first == normalize(region_keyword):
            return Command("region", rest)
        if self.matches(first, self.words("report")):
            # "LAPOR#kategori#lokasi#isi": the one-shot form keeps its leading "#".
            return Command("report", "#" + rest if "#" in separator else rest)
        if self.matches(first, self.words("new")) and (not rest or first in self.words("new")):
            # A typo'd "BARU" only counts alone: "batu", "biru" open ordinary sentences.
            return Command("new", rest)
        if self.matches(first, self.words("status")) and (not rest or re.match(r"^#?\s*\d", rest)):
            return Command("status", rest)
        if self.matches(first, self.words("join")) and re.match(r"^#?\s*\d", rest):
            return Command("join", rest)  # "ikut prihatin ..." is a complaint, "IKUT 12345678" a command
        if self.matches(first, self.words("language")) and rest and self.language_code(rest):
            return Command("language", rest)
        return None

    def language_code(self, text: str) -> str | None:
        """The language a "BAHASA <x>" argument names: "en", "id" or None."""
        return self.lookup_word(text, self.languages)
