"""Agencies and categories as the gateway and the dialogue both use them: one type each.

Built from the validated files (`config.schema`), so the dialogue's category menu, the
router and the ticket service read the same objects out of one configuration snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config.loader import load_model
from config.schema import AgenciesFile, CategoriesFile, LifecycleFile, keyword_words


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
    # Offered in the citizen's category menu; others are reached by the words of the
    # complaint or by the coordinator (a 35-line menu does not fit an SMS).
    menu: bool = True

    def name(self, language: str = "id") -> str:
        return self.names.get(language) or self.names.get("id") or self.code


@dataclass(frozen=True)
class Catalog:
    """The deployer's agencies, categories and base deadlines."""

    city: str
    region_keyword: str | None
    agencies: tuple[AgencyConfig, ...]
    categories: tuple[CategoryConfig, ...]
    deadlines: Mapping[str, int]

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Catalog:
        """Read through the same models `lapor-gateway config check` uses (ConfigError when invalid)."""
        return cls.from_models(
            load_model("agencies.yaml", env),
            load_model("categories.yaml", env),
            load_model("lifecycle.yaml", env),
        )

    @classmethod
    def from_models(
        cls, agencies_doc: AgenciesFile, categories_doc: CategoriesFile, lifecycle_doc: LifecycleFile
    ) -> Catalog:
        agencies = tuple(
            AgencyConfig(
                code=a.code,
                name=a.name,
                coordinator=a.coordinator,
                categories=tuple(a.categories),
                areas=tuple(a.areas),
                forward=a.forward.model_dump(exclude_none=True) if a.forward else {},
                external=a.external,
                contact=a.contact or "",
            )
            for a in agencies_doc.agencies
        )
        categories = tuple(
            CategoryConfig(
                code=c.code,
                names={str(k): v for k, v in c.name.items()} if isinstance(c.name, dict) else {"id": c.name},
                keywords=tuple(k.lower() for k in keyword_words(c.keywords)),
                auto_dispatch=c.auto_dispatch,
                deadlines={str(k): v for k, v in c.deadlines.items()},
                menu=c.menu,
            )
            for c in categories_doc.categories
        )
        region = (agencies_doc.region_keyword or "").strip() or None
        return cls(
            city=agencies_doc.city,
            region_keyword=region,
            agencies=agencies,
            categories=categories,
            deadlines=lifecycle_doc.deadlines.model_dump(exclude_unset=True),
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
