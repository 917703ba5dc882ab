"""Texts of the public pages, from config/messages/public_{id,en}.yaml (Indonesian first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.loader import load_yaml

LANGUAGES: tuple[str, ...] = ("id", "en")
DEFAULT_LANGUAGE = "id"
MONTHS = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


class PublicTexts:
    """One language's texts; a missing key falls back to Indonesian, then to the key itself."""

    def __init__(self, language: str, env: Mapping[str, str] | None = None, catalog: str = "public") -> None:
        """``catalog``: the pair of files read, ``messages/<catalog>_{id,en}.yaml``."""
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self._texts: Mapping[str, Any] = load_yaml(f"messages/{catalog}_{self.language}.yaml", env)
        self._fallback: Mapping[str, Any] = (
            self._texts
            if self.language == DEFAULT_LANGUAGE
            else load_yaml(f"messages/{catalog}_{DEFAULT_LANGUAGE}.yaml", env)
        )

    def has(self, key: str) -> bool:
        return key in self._texts or key in self._fallback

    def __call__(self, key: str, **params: Any) -> str:
        value = self._texts.get(key, self._fallback.get(key, key))
        text = str(value)
        for name, param in params.items():
            text = text.replace("{" + name + "}", str(param))
        return text

    def status(self, status: str | None) -> str:
        return str(self._section("statuses").get(status or "", status or ""))

    def channel(self, channel: str | None) -> str:
        return str(self._section("channels").get(channel or "", channel or "-"))

    def months(self) -> tuple[str, ...]:
        return MONTHS[self.language]

    def _section(self, name: str) -> Mapping[str, Any]:
        own = self._texts.get(name)
        return own if isinstance(own, Mapping) else (self._fallback.get(name) or {})
