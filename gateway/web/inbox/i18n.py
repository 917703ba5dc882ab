"""Operator-facing texts in Indonesian (default) and English, from config/messages/inbox_<lang>.yaml.

The words live in YAML so a deployer can change them without touching code; a
key missing from the English file falls back to Indonesian, and a key missing
everywhere shows itself (``inbox.some.key``) so a gap is visible, not silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, request, session
from flask_login import current_user

from config.loader import load_yaml

LANGUAGES: tuple[str, ...] = ("id", "en")
DEFAULT_LANGUAGE = "id"


def _catalog(language: str, env: Mapping[str, str] | None = None) -> Mapping[str, Any]:
    env = current_app.extensions["lapor"].settings.env if env is None else env
    try:
        data = load_yaml(f"messages/inbox_{language}.yaml", env)
    except FileNotFoundError:
        return {}
    return data if isinstance(data, Mapping) else {}


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


class _SafeParams(dict[str, Any]):
    """Leaves an unknown ``{name}`` in place instead of failing the whole page."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def translate(key: str, language: str | None = None, **params: Any) -> str:
    """The text of ``key`` in ``language`` (the operator's by default), with ``{params}`` filled in."""
    return translate_in(None, key, language or current_language(), **params)


def translate_in(env: Mapping[str, str] | None, key: str, language: str, **params: Any) -> str:
    """`translate` outside a request (the worker's digest): the catalogs of ``env``'s config."""
    value = _lookup(_catalog(language, env), key)
    if value is None and language != DEFAULT_LANGUAGE:
        value = _lookup(_catalog(DEFAULT_LANGUAGE, env), key)
    if value is None:
        return key
    text = str(value)
    return text.format_map(_SafeParams(params)) if params else text


def has_text(key: str, language: str | None = None) -> bool:
    language = language or current_language()
    return (
        _lookup(_catalog(language), key) is not None or _lookup(_catalog(DEFAULT_LANGUAGE), key) is not None
    )


def current_language() -> str:
    """The session's choice, else the operator's saved language, else ``?lang=``, else Indonesian."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    if getattr(current_user, "is_authenticated", False):
        saved = getattr(current_user, "language", None)
        if saved in LANGUAGES:
            return str(saved)
    asked = request.args.get("lang") if request else None
    if asked in LANGUAGES:
        return str(asked)
    return DEFAULT_LANGUAGE
