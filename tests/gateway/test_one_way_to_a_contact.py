"""A contact is created in one place: `_new_address` in gateway/messages/ingest.py.

The webhook's ack (`_contact_for_inbound`) and every form that files a ticket for a number
(walk-in desk, Open311, the demo: `find_or_create_contact`) come through it, so one phone
number on SMS and WhatsApp stays one citizen. Another `Contact(...)` or insert into the
contacts table in gateway/ would be a second way that skips that rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "gateway"
MODELS = {"Contact", "ContactAddress"}


def _creations(path: Path) -> list[str]:
    found: list[str] = []
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in MODELS:
            found.append(f"{path.relative_to(ROOT.parent)}: {name}(...)")
        if name == "insert":
            target = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            argument = ast.unparse(node.args[0]) if node.args else ""
            if {"contacts", "addresses", "Contact", "ContactAddress"} & {target, argument} or any(
                model in target or model in argument
                for model in ("Contact.__table__", "ContactAddress.__table__")
            ):
                found.append(f"{path.relative_to(ROOT.parent)}: {ast.unparse(node)}")
    return found


def test_contacts_are_created_only_by_new_address() -> None:
    found = [
        hit for path in sorted(ROOT.rglob("*.py")) if path.name != "models.py" for hit in _creations(path)
    ]
    # The ack's prepared statements: "contact" (run only by `_new_address`) and "address"
    # (`insert_ignoring`, run only by `_new_address` too).
    assert found == ["gateway/messages/ingest.py: contacts.insert()"], found
    source = (ROOT / "messages" / "ingest.py").read_text(encoding="utf-8")
    callers = [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(call, ast.Call)
            # the ack's prepared statements run through `_ACK.run` (gateway/store/fast_sql.py)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run"
            and len(call.args) > 1
            and isinstance(call.args[1], ast.Constant)
            and call.args[1].value in ("contact", "address")
            for call in ast.walk(node)
        )
    ]
    assert callers == ["_new_address"]
