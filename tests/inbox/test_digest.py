"""The overdue digest through a real SMTP server (aiosmtpd on loopback), by the CLI and the scheduler."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message as EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select

from gateway.cli import main
from gateway.store.models import AuditEntry, Ticket
from gateway.tickets import policy
from gateway.web.inbox import digest
from tests.inbox.conftest import World


class Inbox:
    """An aiosmtpd handler that keeps what it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(runtime: Any) -> Iterator[Inbox]:
    handler = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks its own port, so not 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    env: Any = runtime.settings.env
    env.update(
        {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_FROM": "lapor@pemkot.example.id",
            "LAPOR_DIGEST_ENABLED": "1",
            "LAPOR_DIGEST_HOUR": "0",
            "LAPOR_DIGEST_CC": "inspektorat@pemkot.example.id",
        }
    )
    try:
        yield handler
    finally:
        controller.stop()


def _overdue(runtime: Any, *trackings: str) -> None:
    with runtime.db.session() as session:
        for tracking in trackings:
            ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
            assert ticket is not None
            ticket.overdue = True
            ticket.deadline = policy.today(runtime) - timedelta(days=2)


def _by_recipient(smtp: Inbox) -> dict[str, EmailMessage]:
    return {to: message for tos, message in smtp.received for to in tos}


def test_each_agency_gets_its_own_overdue_tickets_once_a_day(runtime: Any, world: World, smtp: Inbox) -> None:
    _overdue(runtime, world.dpupr_ticket, world.dlh_ticket, world.unverified_ticket)
    assert digest.send(runtime) == 3  # DPUPR, DLH and the coordinator (waiting for verification)
    mails = _by_recipient(smtp)
    pu = mails["pu@example.id"].get_payload()
    assert world.dpupr_ticket in pu and world.dlh_ticket not in pu and world.unverified_ticket not in pu
    assert "+628" not in pu  # never the reporter
    assert mails["pu2@example.id"]["Subject"].startswith("[LAPOR!] 1 laporan terlambat")
    assert world.dlh_ticket in mails["dlh@example.id"].get_payload()
    assert world.unverified_ticket in mails["koor@example.id"].get_payload()
    assert "inspektorat@pemkot.example.id" in mails
    # The scheduler's run later the same day sends nothing again.
    smtp.received.clear()
    digest.digest_task(runtime)
    assert smtp.received == []
    with runtime.db.session() as session:
        assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "digest.sent")).all()) == 3


def test_the_scheduler_sends_when_enabled_and_not_when_off(runtime: Any, world: World, smtp: Inbox) -> None:
    _overdue(runtime, world.dpupr_ticket)
    runtime.settings.env["LAPOR_DIGEST_ENABLED"] = "0"
    digest.digest_task(runtime)
    assert smtp.received == []
    runtime.settings.env["LAPOR_DIGEST_ENABLED"] = "1"
    digest.digest_task(runtime)
    assert "pu@example.id" in _by_recipient(smtp)


def test_no_overdue_ticket_no_email(runtime: Any, world: World, smtp: Inbox) -> None:
    assert digest.send(runtime) == 0
    assert smtp.received == []


def test_the_command_line_sends_and_dry_runs(runtime: Any, world: World, smtp: Inbox) -> None:
    _overdue(runtime, world.dlh_ticket)
    dry = CliRunner().invoke(main, ["digest", "send", "--dry-run"], env=dict(runtime.settings.env))
    assert dry.exit_code == 0, dry.output
    assert world.dlh_ticket in dry.output and smtp.received == []
    out = CliRunner().invoke(main, ["digest", "send"], env=dict(runtime.settings.env))
    assert out.exit_code == 0, out.output
    assert "sent 1 digest(s)" in out.output
    assert "dlh@example.id" in _by_recipient(smtp)


def test_a_password_is_not_sent_in_clear(runtime: Any, world: World, smtp: Inbox) -> None:
    _overdue(runtime, world.dlh_ticket)
    runtime.settings.env.update({"SMTP_USER": "lapor", "SMTP_PASSWORD": "rahasia"})
    with pytest.raises(RuntimeError, match="STARTTLS"):
        digest.send(runtime)
    assert smtp.received == []
