"""The message files: both languages complete, SMS-safe, placeholders consistent."""

from __future__ import annotations

import re
import string
from typing import Any

import gsm0338  # noqa: F401  (registers the codec)
import pytest
import yaml

from config.loader import SHIPPED_DIR
from conversations import texts
from tests.catalogue import catalogue_config

CONFIG = catalogue_config()


def _flatten(node: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    else:
        out[prefix.rstrip(".")] = str(node)
    return out


def _load(language: str) -> dict[str, str]:
    with open(SHIPPED_DIR / "messages" / f"{language}.yaml", encoding="utf-8") as handle:
        return _flatten(yaml.safe_load(handle))


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_english_has_every_indonesian_key_with_the_same_placeholders() -> None:
    indonesian, english = _load("id"), _load("en")
    assert set(indonesian) == set(english)
    for key, value in indonesian.items():
        assert _fields(value) == _fields(english[key]), key


@pytest.mark.parametrize("language", ["id", "en"])
def test_texts_are_gsm7_so_an_sms_is_not_sent_as_ucs2(language: str) -> None:
    for key, value in _load(language).items():
        value.encode("gsm03.38")  # raises for emoji, curly quotes, the one-character ellipsis
        assert not re.search(r"[\u2018\u2019\u201c\u201d\u2026]", value), key


def test_fit_shortens_the_citizens_words_before_the_fixed_text() -> None:
    rendered = texts.fit(CONFIG, "ack.appended", "id", 100, shrink=("tracking",), tracking="1" * 200)
    assert len(rendered) == 100 and rendered.endswith("diteruskan ke petugas.")


def test_unknown_key_and_unknown_language_do_not_crash() -> None:
    assert texts.text(CONFIG, "no.such.key", "id") == "no.such.key"
    assert texts.text(CONFIG, "cancelled", "fr") == texts.text(CONFIG, "cancelled", "id")
