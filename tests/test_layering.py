"""The floors point one way: adapters know nothing of ours; conversations only adapters and config;
the command line is the top floor, imported by nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


RULES = {
    "adapters": {"gateway", "conversations", "config", "flask", "sqlalchemy", "werkzeug"},
    "conversations": {"gateway", "flask", "sqlalchemy", "werkzeug", "redis", "rq", "requests"},
    "config": {"gateway", "conversations", "adapters", "flask", "sqlalchemy"},
}


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_point_one_way(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_modules(path) & RULES[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


def imported_names(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports, top-level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_nothing_imports_the_command_line() -> None:
    """`gateway.cli` imports every floor to run it; a module importing it back makes a cycle."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("adapters", "conversations", "config", "gateway")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "gateway" / "cli.py" and "gateway.cli" in imported_names(path)
    ]
    assert offenders == []


def test_the_rule_checker_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import flask\nfrom gateway.store.models import Ticket\nfrom . import sibling\n")
    assert imported_modules(sample) == {"flask", "gateway"}
    assert imported_names(sample) == {"flask", "gateway.store.models", "gateway.store.models.Ticket"}
