"""Agencies, categories and deadline settings read from config/, as plain objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config.loader import load_yaml


@dataclass(frozen=True)
class AgencyConfig:
    code: str
    name: str
    coordinator: bool = False
    categories: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    forward: Mapping[str, Any] = field(default_factory=dict)
    # Outside regional authority (PLN, BPN...): suggested to the coordinator, never routed to.
    external: bool = False
    contact: str = ""


@dataclass(frozen=True)
class CategoryConfig:
    code: str
    names: Mapping[str, str]
    keywords: tuple[str, ...] = ()
    auto_dispatch: bool = False
    deadlines: Mapping[str, int] = field(default_factory=dict)

    def name(self, language: str = "id") -> str:
        return self.names.get(language) or self.names.get("id") or self.code


@dataclass(frozen=True)
class Catalog:
    """The deployer's data, loaded once per process."""

    city: str
    region_keyword: str | None
    agencies: tuple[AgencyConfig, ...]
    categories: tuple[CategoryConfig, ...]
    deadlines: Mapping[str, int]

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Catalog:
        agencies_doc = load_yaml("agencies.yaml", env)
        categories_doc = load_yaml("categories.yaml", env)
        lifecycle_doc = load_yaml("lifecycle.yaml", env)
        agencies = tuple(
            AgencyConfig(
                code=str(a["code"]),
                name=str(a["name"]),
                coordinator=bool(a.get("coordinator", False)),
                categories=tuple(a.get("categories") or ()),
                areas=tuple(a.get("areas") or ()),
                forward=dict(a.get("forward") or {}),
                external=bool(a.get("external", False)),
                contact=str(a.get("contact") or ""),
            )
            for a in agencies_doc.get("agencies", [])
        )
        categories = tuple(
            CategoryConfig(
                code=str(c["code"]),
                names=dict(c.get("name") or {"id": c["code"]}),
                keywords=tuple(str(k).lower() for k in c.get("keywords") or ()),
                auto_dispatch=bool(c.get("auto_dispatch", False)),
                deadlines=dict(c.get("deadlines") or {}),
            )
            for c in categories_doc.get("categories", [])
        )
        return cls(
            city=str(agencies_doc.get("city", "")),
            region_keyword=agencies_doc.get("region_keyword"),
            agencies=agencies,
            categories=categories,
            deadlines=dict(lifecycle_doc.get("deadlines") or {}),
        )

    @property
    def coordinator(self) -> AgencyConfig:
        for agency in self.agencies:
            if agency.coordinator:
                return agency
        return self.agencies[0]

    def category(self, code: str | None) -> CategoryConfig | None:
        return next((c for c in self.categories if c.code == code), None)

    def agency(self, code: str | None) -> AgencyConfig | None:
        return next((a for a in self.agencies if a.code == code), None)
