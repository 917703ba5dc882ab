"""`operator create` and `operator set-password`: one password rule; old passwords stop working."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.cli import main
from gateway.store.models import AuditEntry, Operator
from tests.inbox.conftest import PASSWORD, login, make_operator

NEW = "rotasi-setelah-pindah-tugas"


@pytest.fixture
def operators(runtime: Any) -> dict[str, int]:
    """Three operators sharing the inbox tests' password; ids by email."""
    with runtime.db.session() as session:
        rows = [
            make_operator(session, "admin@example.id", "admin", None, "Ani Admin"),
            make_operator(session, "pu@example.id", "agency", "dpupr", "Putu PU"),
            make_operator(session, "dlh@example.id", "agency", "dlh", "Lina DLH"),
        ]
        return {row.email: row.id for row in rows}


def _cli(runtime: Any, args: list[str], input: str | None = None) -> Any:
    return CliRunner().invoke(main, args, input=input, env=dict(runtime.settings.env))


def test_set_password_asks_twice_and_only_the_new_password_logs_in(
    app: Any, operators: dict[str, int], runtime: Any
) -> None:
    logged_in = app.test_client()
    assert login(logged_in, "pu@example.id").status_code == 302
    # A mistyped confirmation is asked again; nothing is echoed.
    out = _cli(runtime, ["operator", "set-password", "PU@example.id"], input=f"{NEW}\n{NEW}x\n{NEW}\n{NEW}\n")
    assert out.exit_code == 0, out.output
    assert NEW not in out.output and "do not match" in out.output
    assert "password of PU@example.id changed" in out.output
    assert login(app.test_client(), "pu@example.id", PASSWORD).status_code == 401
    assert login(app.test_client(), "pu@example.id", NEW).status_code == 302
    # The session opened with the old password has ended.
    assert logged_in.get("/inbox/tickets").status_code == 302
    with runtime.db.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "cli.operator_password"))
        assert entry is not None and entry.detail == "pu@example.id" and entry.actor_label.startswith("cli:")
        # Nobody else's password moved.
        others = [
            session.get(Operator, operators[e]).password_hash for e in ("admin@example.id", "dlh@example.id")
        ]
        assert others[0] == others[1]


def test_set_password_refuses_an_unknown_email_before_asking(operators: dict[str, int], runtime: Any) -> None:
    out = _cli(runtime, ["operator", "set-password", "nobody@example.id"], input=f"{NEW}\n{NEW}\n")
    assert out.exit_code != 0
    assert "no operator has the email nobody@example.id" in out.output
    assert "New password" not in out.output


def test_set_password_refuses_a_weak_password(app: Any, operators: dict[str, int], runtime: Any) -> None:
    out = _cli(runtime, ["operator", "set-password", "pu@example.id"], input="pendek\npendek\n")
    assert out.exit_code != 0 and "at least 12 characters" in out.output
    out = _cli(runtime, ["operator", "set-password", "pu@example.id", "--password", "x" * 513])
    assert out.exit_code != 0 and "at most 512 characters" in out.output
    assert login(app.test_client(), "pu@example.id", PASSWORD).status_code == 302


def test_create_applies_the_same_rule(app: Any, operators: dict[str, int], runtime: Any) -> None:
    args = ["operator", "create", "--email", "baru@example.id", "--role", "coordinator"]
    out = _cli(runtime, [*args, "--password", "sebelas-hrf"])  # 11 characters: too short for the inbox too
    assert out.exit_code != 0 and "at least 12 characters" in out.output
    out = _cli(runtime, [*args, "--password", NEW])
    assert out.exit_code == 0, out.output
    assert login(app.test_client(), "baru@example.id", NEW).status_code == 302
