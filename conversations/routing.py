"""No wrong door: every ticket gets an owner, the right agency when the rules are sure.

A citizen does not know which office handles a blocked drain. The category and,
where agencies split the city between them, the area (kecamatan) decide. When
exactly one agency fits, the ticket is routed to it and ``certain`` is true;
otherwise (no category, an unknown one, two agencies that both fit, an area the
ticket does not name, a body outside regional authority such as PLN) it goes to the
coordinator, who disposes it by hand. A ticket is never left without an owner.

``recommend`` starts one step earlier, from the complaint's text: the category is
weighed on evidence (conversations.routing_score) and the ticket is routed by itself
only when the confidence reaches the deployer's threshold; otherwise the coordinator gets
it with the ranked suggestions.

Pure: works on anything shaped like gateway.tickets.catalog's agency and category configs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from conversations.routing_score import Scoring, confidence


class AgencyLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def coordinator(self) -> bool: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def areas(self) -> Sequence[str]: ...


def is_external(agency: AgencyLike) -> bool:
    """A body outside regional authority (PLN, BPN, ...): suggested, never dispatched to."""
    return bool(getattr(agency, "external", False))


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
    candidates = [a for a in agencies if category in a.categories and not a.coordinator]
    handlers = [a for a in candidates if not is_external(a)]
    if not handlers and candidates:
        # PLN, BPN, national roads...: the coordinator refers the citizen; never by itself.
        return to_coordinator(f"outside regional authority: {_codes(candidates)}")
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


@dataclass(frozen=True)
class Recommendation:
    """Where a complaint goes from its text alone, and the coordinator's ranked suggestions."""

    decision: RoutingDecision
    category: str | None
    confidence: float
    words: tuple[str, ...]
    suggestions: tuple[dict[str, Any], ...]

    @property
    def routed(self) -> bool:
        """Sent to an agency without the coordinator."""
        return self.decision.certain


def handler_of(category: str, agencies: Sequence[AgencyLike]) -> AgencyLike | None:
    """The agency a suggestion names: the (city-wide first) non-coordinator handler, else the coordinator."""
    handlers = [a for a in agencies if category in a.categories and not a.coordinator]
    handlers.sort(key=lambda a: (bool(a.areas), is_external(a)))
    if handlers:
        return handlers[0]
    return next((a for a in agencies if a.coordinator and category in a.categories), None)


@dataclass(frozen=True)
class AgencyEvidence:
    """The evidence that points at one agency, summed over the categories it handles."""

    agency: AgencyLike | None
    category: str  # its best-scoring category: the one a confident route goes by
    score: float
    confidence: float
    words: tuple[str, ...]

    def as_data(self) -> dict[str, Any]:
        """As stored on the ticket (``data["routing"]["suggestions"]``) and shown to the coordinator."""
        return {
            "category": self.category,
            "agency": self.agency.code if self.agency else None,
            "external": bool(self.agency and is_external(self.agency)),
            "confidence": self.confidence,
            "words": list(self.words),
        }


def by_agency(scoring: Scoring, agencies: Sequence[AgencyLike]) -> list[AgencyEvidence]:
    """The scorer's categories grouped by the agency that handles them, best first.

    Categories are finer than agencies: street vendors and noise are both Satpol PP's, waste
    and its smoke both DLH's. Weighed apart, a hint of one made the other look doubtful and
    sent plain complaints to the coordinator; summed, they reinforce each other and compete
    only with other agencies. The confidence is the scorer's formula over the summed score.
    """
    total = sum(s.score for s in scoring.suggestions)
    groups: dict[str, list[Any]] = {}
    handler: dict[str, AgencyLike | None] = {}
    for s in scoring.suggestions:
        agency = handler_of(s.category, agencies)
        # A category no agency handles keeps a group of its own (it is only ever a suggestion).
        key = agency.code if agency else f"category:{s.category}"
        groups.setdefault(key, []).append(s)
        handler[key] = agency
    ranked = []
    for key, members in groups.items():
        summed = sum(m.score for m in members)
        ranked.append(
            AgencyEvidence(
                agency=handler[key],
                category=members[0].category,
                score=summed,
                confidence=confidence(summed, total),
                words=tuple(dict.fromkeys(w for m in members for w in m.words)),
            )
        )
    # Stable: equal evidence keeps the scorer's order.
    ranked.sort(key=lambda e: -e.score)
    return ranked


def recommend(
    scoring: Scoring,
    area: str | None,
    agencies: Sequence[AgencyLike],
    categories: Sequence[CategoryLike],
    threshold: float,
    limit: int = 3,
    learned: Mapping[str, float] | None = None,
    learned_weight: float = 0.0,
    area_codes: Sequence[str] = (),
) -> Recommendation:
    """Route on the best-supported agency when its confidence reaches ``threshold``.

    Below the threshold, or for a body outside regional authority, the coordinator owns
    the ticket; either way the top ``limit`` agencies (with their best category, confidence
    and deciding words) go with it. ``learned`` (agency -> probability from the model trained
    on the coordinator's dispositions) is blended in with ``learned_weight``; without it the
    rules decide alone.
    """
    evidence = by_agency(scoring, agencies)
    if learned and learned_weight > 0:
        return _blended(
            evidence, area, agencies, categories, threshold, limit, learned, learned_weight, area_codes
        )
    suggestions = tuple(e.as_data() for e in evidence[:limit])
    if not evidence:
        decision = route(None, area, agencies, categories, area_codes)
        return Recommendation(decision, None, 0.0, (), suggestions)
    top = evidence[0]
    if top.confidence < threshold:
        coordinator = coordinator_of(agencies)
        why = f"uncertain: {top.category!r} at {top.confidence:.2f} < {threshold:.2f}"
        decision = RoutingDecision(coordinator.code, False, False, why)
    else:
        decision = route(top.category, area, agencies, categories, area_codes)
    return Recommendation(decision, top.category, top.confidence, top.words, suggestions)


def _blended(
    evidence: Sequence[AgencyEvidence],
    area: str | None,
    agencies: Sequence[AgencyLike],
    categories: Sequence[CategoryLike],
    threshold: float,
    limit: int,
    learned: Mapping[str, float],
    weight: float,
    area_codes: Sequence[str] = (),
) -> Recommendation:
    """Rules and model, agency by agency: ``(1 - weight) * rules + weight * model``."""
    by_code = {a.code: a for a in agencies}
    rule: dict[str, float] = {}
    words: dict[str, tuple[str, ...]] = {}
    category_of: dict[str, str] = {}
    for e in evidence:
        if e.agency is None:
            continue
        rule[e.agency.code] = e.confidence
        words[e.agency.code] = e.words
        category_of[e.agency.code] = e.category
    codes = [c for c in set(rule) | set(learned) if c in by_code]
    blended = {
        c: round((1 - weight) * rule.get(c, 0.0) + weight * float(learned.get(c, 0.0)), 3) for c in codes
    }
    ranked = sorted(blended, key=lambda c: -blended[c])
    suggestions = tuple(
        {
            "category": category_of.get(code),
            "agency": code,
            "external": is_external(by_code[code]),
            "confidence": blended[code],
            "words": list(words.get(code, ())),
            "learned": round(float(learned.get(code, 0.0)), 3),
        }
        for code in ranked[:limit]
    )
    top = evidence[0] if evidence else None
    coordinator = coordinator_of(agencies)
    if not ranked:
        return Recommendation(route(None, area, agencies, categories, area_codes), None, 0.0, (), suggestions)
    best = by_code[ranked[0]]
    sure = blended[best.code]
    if sure < threshold or best.coordinator or is_external(best):
        why = f"uncertain or outside regional authority: {best.code!r} at {sure:.2f} (rules + learned)"
        decision = RoutingDecision(coordinator.code, False, False, why)
    elif top is not None and category_of.get(best.code) == top.category:
        # Model and rules agree: the category's own routing (areas, auto-dispatch) applies.
        decision = route(top.category, area, agencies, categories, area_codes)
    else:
        decision = RoutingDecision(best.code, True, False, f"learned from dispositions: {sure:.2f}")
    return Recommendation(
        decision,
        top.category if top else None,
        sure,
        top.words if top else (),
        suggestions,
    )
