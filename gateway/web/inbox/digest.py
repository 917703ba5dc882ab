"""The overdue digest: one email a day per agency listing its tickets past their deadline.

Optional: on when ``LAPOR_DIGEST_ENABLED=1`` and ``SMTP_HOST`` is set. The
scheduler (a task of `gateway.work.periodic.TASKS`) checks every few minutes and sends
once the agencies' local hour reaches ``LAPOR_DIGEST_HOUR`` (default 7);
``lapor-gateway digest send`` sends now (``--dry-run`` prints instead).

Each agency's list is what its own operators see (`visibility.visible_clause` of an
agency actor) and is overdue as the list's "Terlambat" tab says
(`filters.tab_condition`); the coordinator's digest holds the overdue tickets still
waiting for verification (whichever agency routing guessed for them). Recipients
are the agency's active operators, plus ``LAPOR_DIGEST_CC`` (comma-separated) on
every digest. The email carries the tracking number, status, deadline and a short summary, never the reporter.
A digest sent is recorded in the audit log (``digest.sent``, day and agency), which
is also what makes it once a day: the scheduler skips an agency already recorded.

SMTP: ``SMTP_HOST``, ``SMTP_PORT`` (default 587; 465 means TLS from the start),
``SMTP_USER`` and ``SMTP_PASSWORD`` (login when set), ``SMTP_FROM``. On other
ports STARTTLS is used whenever the server offers it; a password is never sent
over a connection that is not encrypted unless ``LAPOR_DIGEST_ALLOW_PLAIN=1``
(for a relay on the same host).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from typing import Any, Final

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from gateway.runtime import Runtime
from gateway.store.models import Agency, AuditEntry, Operator, Ticket, utcnow
from gateway.tickets import policy, service, visibility
from gateway.web.inbox.filters import tab_condition
from gateway.web.inbox.i18n import translate_in

log = logging.getLogger(__name__)

#: How often the scheduler looks whether today's digests are due (seconds).
CHECK_INTERVAL: Final = 600
DEFAULT_HOUR: Final = 7
SUMMARY_LENGTH: Final = 80
AUDIT_ACTION: Final = "digest.sent"


@dataclass
class Digest:
    agency: Agency
    recipients: list[str]
    tickets: list[Ticket] = field(default_factory=list)


def _setting(runtime: Runtime, name: str, default: str = "") -> str:
    return (runtime.settings.get(name) or default).strip()


def enabled(runtime: Runtime) -> bool:
    return _setting(runtime, "LAPOR_DIGEST_ENABLED") in ("1", "true", "yes") and bool(
        _setting(runtime, "SMTP_HOST")
    )


def _owed_by(agency: Agency) -> Any:
    """The tickets whose next step is ``agency``'s: for an agency, those disposed to it (what its
    operators see, `visibility.visible_clause`); for the coordinator, those waiting for verification,
    whichever agency routing guessed."""
    if agency.is_coordinator:
        return Ticket.status.in_(tuple(lc.PRE_DISPATCH_STATUSES))
    actor = service.Actor(kind="operator", id=None, role=lc.AGENCY, agency_id=agency.id, label="digest")
    return visibility.visible_clause(actor)


def build(session: Session, runtime: Runtime) -> list[Digest]:
    """Every agency's overdue tickets and recipients (agencies with neither are left out)."""
    cc = [a.strip() for a in _setting(runtime, "LAPOR_DIGEST_CC").split(",") if a.strip()]
    digests = []
    for agency in session.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.name)):
        tickets = list(
            session.scalars(
                select(Ticket)
                .where(_owed_by(agency), tab_condition("overdue", 0))
                .order_by(Ticket.deadline, Ticket.id)
            )
        )
        emails = list(
            session.scalars(
                select(Operator.email).where(Operator.agency_id == agency.id, Operator.active.is_(True))
            )
        )
        if tickets and (emails or cc):
            digests.append(Digest(agency, sorted(set(emails)) + [c for c in cc if c not in emails], tickets))
    return digests


def render(runtime: Runtime, digest: Digest, day: date) -> EmailMessage:
    env, lang = runtime.settings.env, _setting(runtime, "LAPOR_DIGEST_LANGUAGE", "id")
    lines = [
        translate_in(
            env, "notices.digest_intro", lang, agency=digest.agency.name, day=day.strftime("%d-%m-%Y")
        ),
        "",
    ]
    for ticket in digest.tickets:
        summary = " ".join(ticket.description.split())
        if len(summary) > SUMMARY_LENGTH:
            summary = summary[: SUMMARY_LENGTH - 1] + "…"
        lines.append(
            translate_in(
                env,
                "notices.digest_line",
                lang,
                tracking=ticket.tracking,
                status=translate_in(env, f"status.{ticket.status}", lang),
                deadline=ticket.deadline.strftime("%d-%m-%Y") if ticket.deadline else "-",
                summary=summary,
            )
        )
    lines += [
        "",
        translate_in(
            env, "notices.digest_footer", lang, url=f"{runtime.settings.public_base_url}/inbox/today"
        ),
    ]
    message = EmailMessage()
    message["Subject"] = translate_in(
        env, "notices.digest_subject", lang, count=len(digest.tickets), agency=digest.agency.name
    )
    message["From"] = _setting(runtime, "SMTP_FROM", "lapor@localhost")
    message["To"] = ", ".join(digest.recipients)
    message.set_content("\n".join(lines))
    return message


def _connect(runtime: Runtime) -> smtplib.SMTP:
    host = _setting(runtime, "SMTP_HOST")
    port = int(_setting(runtime, "SMTP_PORT", "587") or 587)
    user, password = _setting(runtime, "SMTP_USER"), runtime.settings.get("SMTP_PASSWORD") or ""
    if port == 465:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=ssl.create_default_context())
        encrypted = True
    else:
        smtp = smtplib.SMTP(host, port, timeout=30)
        smtp.ehlo()
        encrypted = smtp.has_extn("starttls")
        if encrypted:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
    if user:
        if not encrypted and _setting(runtime, "LAPOR_DIGEST_ALLOW_PLAIN") != "1":
            smtp.quit()
            raise RuntimeError("the SMTP server offers no STARTTLS; refusing to send the password in clear")
        smtp.login(user, password)
    return smtp


def _sent_today(session: Session, day: date, agency: Agency) -> bool:
    return (
        session.scalar(
            select(AuditEntry.id).where(
                AuditEntry.action == AUDIT_ACTION, AuditEntry.detail == f"{day} {agency.code}"
            )
        )
        is not None
    )


def send(runtime: Runtime, *, day: date | None = None, force: bool = False) -> int:
    """Send today's digests not yet sent (all of them with ``force``); returns how many went."""
    day = day or policy.today(runtime)
    with runtime.db.session(write=False) as session:
        digests = [d for d in build(session, runtime) if force or not _sent_today(session, day, d.agency)]
        messages = [(d.agency.code, render(runtime, d, day)) for d in digests]
    if not messages:
        return 0
    smtp = _connect(runtime)
    sent = 0
    try:
        for code, message in messages:
            smtp.send_message(message)
            with runtime.db.session() as session:
                session.add(AuditEntry(actor_label="digest", action=AUDIT_ACTION, detail=f"{day} {code}"))
            sent += 1
    finally:
        smtp.quit()
    return sent


def digest_task(runtime: Runtime) -> None:
    if not enabled(runtime):
        return
    try:
        hour = int(_setting(runtime, "LAPOR_DIGEST_HOUR", str(DEFAULT_HOUR)))
    except ValueError:
        hour = DEFAULT_HOUR
    from zoneinfo import ZoneInfo

    if utcnow().astimezone(ZoneInfo(policy.timezone(runtime))).hour < hour:
        return
    try:
        send(runtime)
    except (OSError, smtplib.SMTPException, RuntimeError) as exc:
        log.warning("overdue digest not sent", extra={"error": type(exc).__name__})


@click.group("digest")
def digest_cli() -> None:
    """The overdue digest email (LAPOR_DIGEST_*, SMTP_*)."""


@digest_cli.command("send")
@click.option("--dry-run", is_flag=True, help="print the emails instead of sending them")
@click.option("--force", is_flag=True, help="send even to agencies already sent today's digest")
def digest_send(dry_run: bool, force: bool) -> None:
    """Send each agency its overdue tickets now (whether or not LAPOR_DIGEST_ENABLED is set)."""
    from config.settings import load_settings

    runtime = Runtime(load_settings())
    try:
        if dry_run:
            day = policy.today(runtime)
            with runtime.db.session(write=False) as session:
                for digest in build(session, runtime):
                    click.echo(render(runtime, digest, day).as_string())
            return
        if not _setting(runtime, "SMTP_HOST"):
            raise click.ClickException("SMTP_HOST is not set")
        try:
            count = send(runtime, force=force)
        except (OSError, smtplib.SMTPException, RuntimeError) as exc:
            raise click.ClickException(f"could not send: {exc}") from exc
        click.echo(f"sent {count} digest(s)")
    finally:
        runtime.close()
