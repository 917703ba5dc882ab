"""No wrong door: every ticket gets an owner, the right agency when the rules are sure.

A citizen does not know which office handles a blocked drain. The category and,
where agencies split the city between them, the area (kecamatan) decide. When
exactly one agency fits, the ticket is routed to it and ``certain`` is true;
otherwise (no category, an unknown one, two agencies that both fit, an area the
ticket does not name) it goes to the coordinator, who disposes it by hand. A
ticket is never left without an owner.

Pure: works on anything shaped like gateway.catalog's agency and category configs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


class AgencyLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def coordinator(self) -> bool: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def areas(self) -> Sequence[str]: ...


class CategoryLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def auto_dispatch(self) -> bool: ...


@dataclass(frozen=True)
class RoutingDecision:
    """Where a ticket goes, whether the rules were sure, and why (kept in the ticket's history)."""

    agency_code: str
    certain: bool
    auto_dispatch: bool
    reason: str


def _norm(value: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", value.lower()))


def coordinator_of(agencies: Sequence[AgencyLike]) -> AgencyLike:
    """The coordinator, or the first agency when none is marked (a config mistake, still an owner)."""
    if not agencies:
        raise ValueError("no agencies configured: config/agencies.yaml needs at least the coordinator")
    return next((a for a in agencies if a.coordinator), agencies[0])


def route(
    category: str | None,
    area: str | None,
    agencies: Sequence[AgencyLike],
    categories: Sequence[CategoryLike],
    area_codes: Sequence[str] = (),
) -> RoutingDecision:
    """Decide the owner of a ticket about ``category`` in ``area``.

    An agency with no ``areas`` covers the whole city; one with areas covers only
    those. An agency naming the ticket's area wins over a city-wide one, so a
    district office takes its district and the city office the rest. An agency's
    area may be a kecamatan name or a Kemendagri code; ``area_codes`` are the codes
    the ticket's place matched (its kecamatan's and kelurahan's, conversations.places).
    """
    coordinator = coordinator_of(agencies)

    def to_coordinator(reason: str) -> RoutingDecision:
        return RoutingDecision(coordinator.code, False, False, reason)

    if not category:
        return to_coordinator("no category")
    config = next((c for c in categories if c.code == category), None)
    if config is None:
        return to_coordinator(f"unknown category {category!r}")
    handlers = [a for a in agencies if category in a.categories and not a.coordinator]
    if not handlers:
        if category in coordinator.categories:
            return to_coordinator(f"category {category!r} is the coordinator's own")
        return to_coordinator(f"no agency handles category {category!r}")
    wanted = {_norm(x) for x in (area, *area_codes) if x}
    local = [a for a in handlers if wanted & {_norm(str(x)) for x in a.areas}]
    citywide = [a for a in handlers if not a.areas]
    if len(local) == 1:
        chosen, why = local[0], f"category {category!r} in area {area!r}"
    elif len(local) > 1:
        return to_coordinator(f"several agencies handle {category!r} in {area!r}: {_codes(local)}")
    elif len(citywide) == 1 and (wanted or len(handlers) == 1):
        # With an area no district office covers, or with no district offices at all.
        chosen, why = citywide[0], f"category {category!r}"
    elif len(citywide) > 1:
        return to_coordinator(f"several agencies handle {category!r}: {_codes(citywide)}")
    elif not wanted:
        return to_coordinator(f"agencies split {category!r} by area and the ticket names none")
    else:
        return to_coordinator(f"no agency handles {category!r} in {area!r}")
    return RoutingDecision(chosen.code, True, bool(config.auto_dispatch), why)


def _codes(agencies: Iterable[AgencyLike]) -> str:
    return ", ".join(a.code for a in agencies)


def detect_area(text: str | None, known_areas: Iterable[str]) -> str | None:
    """The configured area (kecamatan) named in a location text, longest name first; None if none."""
    if not text:
        return None
    haystack = f" {_norm(text)} "
    for name in sorted({a for a in known_areas if a}, key=len, reverse=True):
        if f" {_norm(name)} " in haystack:
            return name
    return None
