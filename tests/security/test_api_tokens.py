"""`lapor-gateway api-token list` and `api-token revoke NAME`: a revoked token is refused at once."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from gateway.cli import main
from gateway.store.models import AuditEntry


def _cli(runtime: Any, args: list[str]) -> Any:
    return CliRunner().invoke(main, args, env=dict(runtime.settings.env))


def _get(client: Any, token: str) -> int:
    return int(client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}).status_code)


def test_list_shows_tokens_without_the_secret_and_revoke_refuses_them(client: Any, runtime: Any) -> None:
    made = _cli(runtime, ["api-token", "create", "civic-app"])
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    other = _cli(runtime, ["api-token", "create", "dashboard", "--agency", "dpupr"]).output.strip()
    assert _get(client, token) == 200 and _get(client, other) == 200

    listed = _cli(runtime, ["api-token", "list"])
    assert listed.exit_code == 0, listed.output
    assert "civic-app" in listed.output and "dashboard" in listed.output and "dpupr" in listed.output
    assert token[:10] in listed.output  # the prefix, to tell tokens apart
    assert token not in listed.output and other not in listed.output

    revoked = _cli(runtime, ["api-token", "revoke", "civic-app"])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.output
    assert _get(client, token) == 401
    assert _get(client, other) == 200  # only the named token
    open311 = client.post(
        "/open311/v2/requests.json",
        data={"api_key": token, "service_code": "jalan", "address_string": "Jl. Melati", "description": "x"},
    )
    assert open311.status_code == 403

    after = _cli(runtime, ["api-token", "list"]).output
    line = next(row for row in after.splitlines() if "civic-app" in row)
    assert "revoked" in line
    with runtime.db.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "cli.api_token_revoke"))
        assert entry is not None and "civic-app" in (entry.detail or "")
        assert (entry.actor_label or "").startswith("cli:")


def test_revoking_an_unknown_or_revoked_name_fails(runtime: Any) -> None:
    assert _cli(runtime, ["api-token", "revoke", "nobody"]).exit_code != 0
    _cli(runtime, ["api-token", "create", "civic-app"])
    assert _cli(runtime, ["api-token", "revoke", "civic-app"]).exit_code == 0
    assert _cli(runtime, ["api-token", "revoke", "civic-app"]).exit_code != 0


def test_a_name_is_taken_while_its_token_is_active(runtime: Any) -> None:
    """So that `revoke NAME` names one token; after revoking, the name can be used again."""
    assert _cli(runtime, ["api-token", "create", "civic-app"]).exit_code == 0
    again = _cli(runtime, ["api-token", "create", "civic-app"])
    assert again.exit_code != 0 and "revoke" in again.output
    assert _cli(runtime, ["api-token", "revoke", "civic-app"]).exit_code == 0
    assert _cli(runtime, ["api-token", "create", "civic-app"]).exit_code == 0
