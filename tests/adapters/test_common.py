"""Shared adapter helpers: phone numbers, text cleaning, splitting, Retry-After, proxy detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.common import (
    clean_text,
    environment_has_http_settings,
    normalize_phone,
    retry_after_seconds,
    split_text,
)


@pytest.mark.parametrize("raw", ["081234567890", "6281234567890", "+62 812-3456-7890", "0062812 3456 7890"])
def test_indonesian_number_shapes_become_one_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+6281234567890"


@pytest.mark.parametrize("raw", ["1708", "LAPOR", "InfoPLN", ""])
def test_shortcodes_and_names_are_not_phone_numbers(raw: str) -> None:
    assert normalize_phone(raw) is None


def test_clean_text_drops_nul_and_controls_but_keeps_emoji_and_newlines() -> None:
    assert clean_text("a\x00b\x07c\n😀\t") == "abc\n😀\t"
    assert clean_text(b"caf\xe9") == "caf\ufffd"


def test_split_text_cuts_at_breaks_and_never_exceeds_the_limit() -> None:
    text = ("kata " * 400).strip()
    parts = split_text(text, 100)
    assert all(len(p) <= 100 for p in parts)
    assert " ".join(parts) == text


def test_retry_after_reads_seconds_and_ignores_garbage() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_proxy_settings_are_noticed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for key in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(key, raising=False)
    assert environment_has_http_settings() is False
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert environment_has_http_settings() is True
    monkeypatch.delenv("HTTPS_PROXY")
    (tmp_path / ".netrc").write_text("machine example login a password b\n")
    assert environment_has_http_settings() is True
