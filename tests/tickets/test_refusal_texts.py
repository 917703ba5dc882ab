"""Every refusal an operator can meet has a sentence in both inbox catalogs.

Raising each `TransitionRefused` for real would take a test per raise site, so
this reads the two modules that raise them instead: each call must name a
literal ``key`` and a literal ``params`` dict, each key must have a text under
``refusal:`` in config/messages/inbox_id.yaml and inbox_en.yaml, and every
``{placeholder}`` in those texts must be a parameter that call site passes (a
placeholder nobody fills would show as ``{name}`` to the operator).
"""

from __future__ import annotations

import ast
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RAISING_MODULES = (
    "conversations/lifecycle.py",
    "gateway/tickets/service.py",
    "gateway/tickets/supporters.py",
)
CATALOGS = ("inbox_id.yaml", "inbox_en.yaml")


@dataclass(frozen=True)
class RaiseSite:
    """One ``TransitionRefused(...)`` call: where it is, its key, the params it passes."""

    where: str
    key: str | None
    params: frozenset[str] | None  # None: not a literal dict, so not checkable


def _is_refusal_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name == "TransitionRefused"


def _site(module: str, call: ast.Call) -> RaiseSite:
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    key_node = keywords.get("key")
    key = key_node.value if isinstance(key_node, ast.Constant) and isinstance(key_node.value, str) else None
    params_node = keywords.get("params")
    params: frozenset[str] | None
    if params_node is None:
        params = frozenset()
    elif isinstance(params_node, ast.Dict) and all(
        isinstance(k, ast.Constant) and isinstance(k.value, str) for k in params_node.keys
    ):
        params = frozenset(k.value for k in params_node.keys if isinstance(k, ast.Constant))
    else:
        params = None
    return RaiseSite(f"{module}:{call.lineno}", key, params)


def raise_sites() -> list[RaiseSite]:
    sites: list[RaiseSite] = []
    for module in RAISING_MODULES:
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"), filename=module)
        sites += [_site(module, node) for node in ast.walk(tree) if _is_refusal_call(node)]
    return sites


def refusal_texts(catalog: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "config" / "messages" / catalog).read_text(encoding="utf-8"))
    section = data.get("refusal")
    assert isinstance(section, dict), f"{catalog} has no refusal: section"
    return section


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


SITES = raise_sites()


def test_the_walker_finds_the_raise_sites() -> None:
    # A rename that hid every call from the walker would make the checks below pass vacuously.
    assert len(SITES) >= 35
    assert {site.where.split(":")[0] for site in SITES} == set(RAISING_MODULES)


@pytest.mark.parametrize("site", SITES, ids=lambda site: site.where)
def test_each_refusal_names_a_literal_key_and_literal_params(site: RaiseSite) -> None:
    assert site.key, f"{site.where}: TransitionRefused(...) needs key='...' (a string literal)"
    assert site.params is not None, f"{site.where}: params must be a dict literal with string keys"


@pytest.mark.parametrize("catalog", CATALOGS)
@pytest.mark.parametrize("site", SITES, ids=lambda site: site.where)
def test_each_key_has_a_text_whose_placeholders_the_call_site_fills(site: RaiseSite, catalog: str) -> None:
    texts = refusal_texts(catalog)
    assert site.key in texts, f"{site.where}: no refusal.{site.key} in config/messages/{catalog}"
    text = texts[site.key]
    assert isinstance(text, str) and text.strip(), f"refusal.{site.key} in {catalog} is empty"
    missing = placeholders(text) - (site.params or frozenset())
    assert not missing, f"refusal.{site.key} in {catalog} uses {sorted(missing)}, not passed at {site.where}"


@pytest.mark.parametrize("catalog", CATALOGS)
def test_the_catalogs_hold_no_refusal_nobody_raises(catalog: str) -> None:
    used = {site.key for site in SITES}
    assert set(refusal_texts(catalog)) - used == set()


def test_both_languages_fill_in_the_same_params() -> None:
    # A sentence that drops a parameter in one language usually lost information.
    indonesian, english = (refusal_texts(catalog) for catalog in CATALOGS)
    for key, text in indonesian.items():
        assert placeholders(text) == placeholders(english[key]), key
