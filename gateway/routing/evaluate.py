"""Measuring the router on labelled complaints (`lapor-gateway routing evaluate FILE`).

Input: JSON lines ``{"text": ..., "agency": ...}`` where agency is a code or a name of
config/agencies.yaml (other keys are ignored). Each complaint goes through the same steps
as a new ticket from the conversation (conversations.routing.recommend) and counts as:

- right: routed by itself to the labelled agency; or sent to the coordinator when the
  labelled body is the coordinator itself, or is outside regional authority (PLN, BPN...)
  and is the first suggestion (the coordinator only confirms the referral);
- confidently wrong: routed by itself to another agency;
- coordinator: left to the coordinator (right or not), with top-3 hits reported apart.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conversations.routing import is_external, recommend
from conversations.routing_score import Rules, score
from conversations.snapshot import ConfigSnapshot
from gateway.tickets.catalog import AgencyConfig

COORDINATOR_COLUMN = "(koordinator)"


class EvaluationError(ValueError):
    """A line of the input that cannot be read; the message names the line."""


@dataclass
class Evaluation:
    total: int = 0
    right: int = 0
    confident_wrong: int = 0
    coordinator: int = 0
    coordinator_top3: int = 0
    confusion: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    mistakes: list[tuple[str, str, str]] = field(default_factory=list)
    problems: tuple[str, ...] = ()

    def share(self, count: int) -> float:
        return count / self.total if self.total else 0.0

    @property
    def accuracy(self) -> float:
        return self.share(self.right)

    @property
    def confident_wrong_share(self) -> float:
        return self.share(self.confident_wrong)

    @property
    def coordinator_share(self) -> float:
        return self.share(self.coordinator)


def _agency_code(value: str, agencies: Sequence[AgencyConfig]) -> str | None:
    wanted = " ".join(value.lower().split())
    for agency in agencies:
        if wanted in (agency.code.lower(), " ".join(agency.name.lower().split())):
            return agency.code
    return None


def read_cases(lines: Iterable[str], agencies: Sequence[AgencyConfig]) -> list[tuple[str, str]]:
    """(text, agency code) pairs; raises EvaluationError naming the first bad line."""
    cases = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row.get("agency"):
            raise EvaluationError(f'line {number}: needs "text" and "agency"')
        code = _agency_code(str(row["agency"]), agencies)
        if code is None:
            raise EvaluationError(f"line {number}: unknown agency {row['agency']!r}")
        cases.append((row["text"], code))
    return cases


def evaluate(
    cases: Sequence[tuple[str, str]], config: ConfigSnapshot, rules: Rules | None = None
) -> Evaluation:
    """Run every case through the router the way a new ticket is routed (``rules``: others
    than the snapshot's, to compare)."""
    catalog = config.catalog
    rules = rules or config.rules
    coordinator = catalog.coordinator.code
    result = Evaluation(problems=rules.problems)
    for text, label in cases:
        advice = recommend(
            score(config, text, rules=rules),
            None,
            catalog.agencies,
            catalog.categories,
            rules.threshold,
            rules.suggestions,
        )
        result.total += 1
        suggested = [s.get("agency") for s in advice.suggestions]
        if advice.routed:
            predicted = advice.decision.agency_code
            if predicted == label:
                result.right += 1
            else:
                result.confident_wrong += 1
        else:
            predicted = COORDINATOR_COLUMN
            result.coordinator += 1
            labelled = catalog.agency(label)
            referral = labelled is not None and is_external(labelled) and suggested[:1] == [label]
            if label == coordinator or referral:
                result.right += 1
            if label in suggested:
                result.coordinator_top3 += 1
        result.confusion[label][predicted] += 1
        if predicted not in (label, COORDINATOR_COLUMN) or (
            predicted == COORDINATOR_COLUMN and label not in suggested
        ):
            result.mistakes.append((label, predicted, text))
    return result


def evaluate_file(path: Path, config: ConfigSnapshot) -> Evaluation:
    with path.open(encoding="utf-8") as handle:
        cases = read_cases(handle, config.catalog.agencies)
    return evaluate(cases, config)


def report(result: Evaluation) -> str:
    """The numbers and the confusion table, as plain text."""
    lines = [f"config problem (ignored): {p}" for p in result.problems]
    lines += [
        f"complaints:                     {result.total}",
        f"right agency, no menu:          {result.right} ({result.accuracy:.1%})",
        f"routed with confidence, wrong:  {result.confident_wrong} ({result.confident_wrong_share:.1%})",
        f"left to the coordinator:        {result.coordinator} ({result.coordinator_share:.1%})",
        f"  of which right agency in top 3 suggestions: {result.coordinator_top3}",
        "",
        "confusion (rows: labelled agency, columns: where the router sent it)",
    ]
    columns = sorted({c for row in result.confusion.values() for c in row})
    width = max([len(c) for c in columns] + [len(r) for r in result.confusion] + [6])
    lines.append(" " * (width + 1) + " ".join(c.rjust(width) for c in columns))
    for label in sorted(result.confusion):
        row = result.confusion[label]
        lines.append(label.ljust(width + 1) + " ".join(str(row.get(c, 0)).rjust(width) for c in columns))
    if result.mistakes:
        lines += ["", "misses (labelled -> sent to):"]
        lines += [f"  {label} -> {sent}: {text[:90]}" for label, sent, text in result.mistakes]
    return "\n".join(lines)


def summary(result: Evaluation) -> dict[str, Any]:
    return {
        "total": result.total,
        "accuracy": round(result.accuracy, 4),
        "confident_wrong": round(result.confident_wrong_share, 4),
        "coordinator": round(result.coordinator_share, 4),
    }
