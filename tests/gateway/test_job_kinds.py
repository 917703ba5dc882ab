"""Every job kind is listed once, in `gateway.work.kinds`, and nothing else registers one:
the runner's lookup is built from that list (no module-level registry a test must edit)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from gateway.work.kinds import KINDS, handlers_of
from gateway.work.registry import FunctionHandler
from gateway.work.runner import JobRunner

ROOT = Path(__file__).resolve().parents[2]


def test_the_runner_runs_exactly_the_listed_kinds(runtime: Any) -> None:
    listed = [name for name, _ in KINDS]
    assert len(listed) == len(set(listed))  # each kind once
    jobs = JobRunner(runtime)
    try:
        assert sorted(jobs.handlers) == sorted(listed)
        # the handler listed is the one that runs
        assert all(jobs.handlers[name] is handler for name, handler in KINDS)
    finally:
        jobs.close()


def test_a_kind_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        handlers_of((*KINDS, (KINDS[0][0], FunctionHandler(lambda _runtime, _payload: None))))


def test_no_module_level_registry_of_kinds() -> None:
    """Nothing fills a registry by being imported: the registry module holds no table of kinds,
    and no module decorates a handler into one."""
    source = (ROOT / "gateway" / "work" / "registry.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    tables = [
        ast.unparse(node)
        for node in tree.body
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(getattr(node, "value", None), ast.Dict)
    ]
    assert tables == []
    decorated = [
        f"{path.relative_to(ROOT)}: {ast.unparse(dec)}"
        for path in sorted((ROOT / "gateway").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
        for dec in node.decorator_list
        if isinstance(dec, ast.Call)
        and ast.unparse(dec.func).rpartition(".")[2] in {"handler", "handler_class", "transactional_handler"}
    ]
    assert decorated == []


def test_no_package_registers_handlers_as_a_side_effect_of_its_import() -> None:
    """Only `gateway.work.kinds` imports the handler modules for their registrations."""
    handler_modules = {
        "gateway.work.handlers.turn",
        "gateway.work.handlers.fetch_media",
        "gateway.work.handlers.send",
        "gateway.tickets.forwarding",
    }
    for package in (
        "gateway/work/handlers/__init__.py",
        "gateway/tickets/__init__.py",
        "gateway/work/__init__.py",
    ):
        tree = ast.parse((ROOT / package).read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        assert imported & handler_modules == set(), package
