"""Every job kind is listed once, in `gateway.jobs.kinds`, and nothing else registers one.

Checked in a fresh interpreter, so that what other tests imported does not count.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json
from gateway.jobs import registry
def registered():
    staged = {k: type(v) for k, v in registry.STAGED.items()}
    return {**registry.HANDLERS, **registry.TRANSACTIONAL, **staged}
before = sorted(registered())
import gateway.jobs.runner
from gateway.jobs.kinds import KINDS
now = registered()
print(json.dumps({
    "before": before,
    "listed": [name for name, _ in KINDS],
    "registered": sorted(now),
    "same_objects": all(now.get(name) is handler for name, handler in KINDS),
}))
"""


def _probe() -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_runner_runs_exactly_the_listed_kinds() -> None:
    found = _probe()
    listed = found["listed"]
    assert isinstance(listed, list) and len(listed) == len(set(listed))  # each kind once
    assert found["registered"] == sorted(listed)
    assert found["same_objects"] is True  # the handler listed is the one that runs
    assert found["before"] == []  # the registry module alone registers nothing


def test_no_package_registers_handlers_as_a_side_effect_of_its_import() -> None:
    """Only `gateway.jobs.kinds` imports the handler modules for their registrations."""
    handler_modules = {
        "gateway.tasks.inbound",
        "gateway.tasks.media",
        "gateway.tasks.send",
        "gateway.tickets.forwarding",
    }
    for package in ("gateway/tasks/__init__.py", "gateway/tickets/__init__.py", "gateway/jobs/__init__.py"):
        tree = ast.parse((ROOT / package).read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        assert imported & handler_modules == set(), package
