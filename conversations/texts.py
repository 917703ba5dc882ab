"""Citizen-facing texts: looked up in config/messages/<lang>.yaml, rendered, made to fit.

Texts live in YAML so that a deployer can reword them without a release. A key
missing in the deployer's copy falls back to the shipped file, then to Indonesian,
so a half-edited file never leaves a citizen without an answer. Placeholders a
deployer mistypes are left visible instead of raising.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conversations.snapshot import ConfigSnapshot

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
ELLIPSIS = "..."  # GSM-7 safe, unlike the single-character ellipsis


def _lookup(data: Any, key: str) -> Any:
    node = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _sources(config: ConfigSnapshot, language: str) -> Iterable[Any]:
    """Deployer's file, shipped file, for the language then for Indonesian."""
    langs = [language] if language == DEFAULT_LANGUAGE else [language, DEFAULT_LANGUAGE]
    for lang in langs:
        yield from config.messages.get(lang, ())


def raw(config: ConfigSnapshot, key: str, language: str) -> Any:
    """The YAML node under a dotted ``key`` (a string, list or mapping), or None."""
    for data in _sources(config, language):
        value = _lookup(data, key)
        if value is not None:
            return value
    return None


def has(config: ConfigSnapshot, key: str, language: str) -> bool:
    return raw(config, key, language) is not None


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_FORMATTER = string.Formatter()


def _format(template: str, params: Mapping[str, Any]) -> str:
    try:
        return _FORMATTER.vformat(template, (), _SafeDict(params))
    except (ValueError, IndexError, AttributeError, KeyError):
        return template


def text(config: ConfigSnapshot, key: str, language: str, **params: Any) -> str:
    """The rendered text for ``key``; the key itself when no file has it (visible, never a crash)."""
    value = raw(config, key, language)
    if value is None:
        return key
    return _format(str(value).rstrip(), params)


def truncate(value: str, limit: int) -> str:
    """Cut ``value`` to ``limit`` characters, marking the cut."""
    if limit <= 0:
        return ""
    if len(value) <= limit:
        return value
    if limit <= len(ELLIPSIS):
        return value[:limit]
    return value[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def fit(
    config: ConfigSnapshot, key: str, language: str, max_len: int, shrink: Iterable[str] = (), **params: Any
) -> str:
    """Render ``key`` within ``max_len`` characters.

    The parameters named in ``shrink`` (the citizen's own words, an operator's note)
    are shortened first, evenly, so that the fixed part of the message (the
    tracking number, what to reply) survives; only then is the whole text cut.
    """
    rendered = text(config, key, language, **params)
    if len(rendered) <= max_len:
        return rendered
    names = [n for n in shrink if isinstance(params.get(n), str) and params[n]]
    if names:
        fixed = len(text(config, key, language, **{**params, **dict.fromkeys(names, "")}))
        budget = max(0, max_len - fixed)
        shares = _shares([len(params[n]) for n in names], budget)
        shrunk = dict(params)
        for name, share in zip(names, shares, strict=True):
            shrunk[name] = truncate(params[name], share)
        rendered = text(config, key, language, **shrunk)
    return truncate(rendered, max_len)


def _shares(lengths: list[int], budget: int) -> list[int]:
    """Split ``budget`` characters over fields: short ones keep all, long ones share the rest."""
    shares = [0] * len(lengths)
    remaining = budget
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    for position, index in enumerate(order):
        fair = remaining // (len(order) - position)
        shares[index] = min(lengths[index], fair)
        remaining -= shares[index]
    return shares


def join(parts: Iterable[str], separator: str = "\n") -> str:
    return separator.join(p for p in parts if p)
