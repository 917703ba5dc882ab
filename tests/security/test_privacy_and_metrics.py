"""Citizens' data requests, retention, and the /metrics endpoint."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from adapters.sms import SmsAdapter
from gateway.cli import main
from gateway.privacy.retention import apply_retention
from gateway.store.models import AuditEntry, Contact, ContactAddress, Message, Ticket, utcnow
from gateway.web.inbox.views_list import safe_cell

ADDRESS = "tel:+6281288889999"


def _post(client: Any, runtime: Any, number: str, text: str, mid: str) -> None:
    req = SmsAdapter.from_env(runtime.settings.env).simulate(number, text, message_id=mid)
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200


def _ticket(runtime: Any, address: str, tracking: str, **values: Any) -> None:
    with runtime.db.session() as session:
        contact_id = session.scalar(
            select(ContactAddress.contact_id).where(ContactAddress.address == address)
        )
        session.add(
            Ticket(
                tracking=tracking, contact_id=contact_id, description="Jalan rusak", address=address, **values
            )
        )


def _cli_env(runtime: Any) -> dict[str, str]:
    return {k: v for k, v in runtime.settings.env.items()}


def test_export_and_erase_from_the_command_line(client: Any, runtime: Any, drain: Any) -> None:
    _post(client, runtime, "081288889999", "Lampu jalan mati di Jl. Melati", "priv-1")
    drain()
    _ticket(runtime, ADDRESS, "10000009")
    runner = CliRunner()
    out = runner.invoke(main, ["contact", "export", ADDRESS], env=_cli_env(runtime))
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["contact"]["addresses"][0]["address"] == ADDRESS
    assert any("Lampu jalan" in m["text"] for m in data["messages"])
    assert data["tickets"][0]["tracking"] == "10000009"

    out = runner.invoke(main, ["contact", "erase", ADDRESS, "--yes"], env=_cli_env(runtime))
    assert out.exit_code == 0, out.output
    with runtime.db.session() as session:
        assert session.scalar(select(ContactAddress).where(ContactAddress.address == ADDRESS)) is None
        texts = session.scalars(select(Message.text).where(Message.direction == "in")).all()
        assert texts and all("Lampu" not in t for t in texts)
        assert session.scalar(select(Message).where(Message.address == ADDRESS)) is None
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.address is None and ticket.tracking == "10000009"  # the complaint stays, unlinked
        actions = session.scalars(select(AuditEntry.action)).all()
        assert "privacy_export" in actions and "privacy_erase" in actions
        details = " ".join(session.scalars(select(AuditEntry.detail)).all())
        assert "6281288889999" not in details
    out = runner.invoke(main, ["contact", "export", ADDRESS], env=_cli_env(runtime))
    assert out.exit_code != 0


def test_retention_anonymizes_only_long_closed_contacts(client: Any, runtime: Any, settings: Any) -> None:
    _post(client, runtime, "081200000001", "Sampah menumpuk", "ret-1")
    _post(client, runtime, "081200000002", "Banjir", "ret-2")
    old = utcnow() - timedelta(days=30 * 25)
    _ticket(runtime, "tel:+6281200000001", "20000001", status="resolved", closed_at=old)
    _ticket(runtime, "tel:+6281200000002", "20000002", status="in_progress")
    with runtime.db.session() as session:
        for m in session.scalars(select(Message)):
            m.created_at = old
    from gateway.runtime import Runtime

    rt = Runtime(replace(settings, retention_months=24))
    try:
        assert apply_retention(rt) == 1
        assert apply_retention(rt) == 0  # idempotent
    finally:
        rt.close()
    with runtime.db.session() as session:
        addresses = session.scalars(select(ContactAddress.address)).all()
        assert addresses == ["tel:+6281200000002"]
        anonymized = session.scalars(select(Contact).where(Contact.anonymized_at.is_not(None))).all()
        assert len(anonymized) == 1
        assert session.scalars(select(AuditEntry.action)).all() == ["retention_anonymize"]


def test_spreadsheet_formulas_are_neutralised() -> None:
    assert safe_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert safe_cell("@SUM(A1)").startswith("'")
    assert safe_cell("Jalan rusak") == "Jalan rusak"


def _value(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}}") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_webhooks_and_report_state(client: Any, runtime: Any) -> None:
    before = client.get("/metrics").get_data(as_text=True)
    _post(client, runtime, "081277776666", "Pungli", "metrics-1")
    client.post("/webhooks/whatsapp", data=b"{}", headers={"X-Hub-Signature-256": "sha256=00"})
    _ticket(runtime, "tel:+6281277776666", "30000003", overdue=True)
    res = client.get("/metrics")
    assert res.status_code == 200
    assert res.content_type.startswith("text/plain")
    after = res.get_data(as_text=True)
    accepted = {"channel": "sms", "result": "accepted"}
    refused = {"channel": "whatsapp", "result": "bad_signature"}
    assert (
        _value(after, "lapor_webhooks_total", **accepted)
        == _value(before, "lapor_webhooks_total", **accepted) + 1
    )
    assert (
        _value(after, "lapor_webhooks_total", **refused)
        == _value(before, "lapor_webhooks_total", **refused) + 1
    )
    assert _value(after, "lapor_tickets", status="unverified") == 1
    assert _value(after, "lapor_tickets_overdue") == 1
    assert "lapor_queue_depth" in after
    assert _value(after, "lapor_dependency_up", dependency="database") == 1
