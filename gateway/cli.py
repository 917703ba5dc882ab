"""The `lapor-gateway` command line (see ARCHITECTURE.md for the contract)."""

from __future__ import annotations

import getpass
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from config.settings import load_settings
from gateway.cli_settings import settings_or_exit as _settings_or_exit

# Replies waiting on providers at once per worker (see gateway.worker); the worker's one CPU
# thread runs everything else.
DEFAULT_SEND_THREADS = 32


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lapor-gateway")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


@click.group()
@click.version_option(version=_version(), prog_name="lapor-gateway")
def main() -> None:
    """lapor-gateway: SMS, WhatsApp and Telegram complaints for SP4N-LAPOR!."""


# --------------------------------------------------------------------------- database
@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration and sync the agencies from config (safe to run on every deploy)."""
    from gateway.migrate import upgrade
    from gateway.runtime import Runtime
    from gateway.tickets.seed import apply_agencies

    runtime = Runtime(_settings_or_exit())
    try:
        applied = upgrade(runtime.db)
        for line in applied:
            click.echo(f"applied {line}")
        click.echo(f"database is at head ({len(applied)} migration(s) applied)")
        with runtime.db.session() as session:
            click.echo(apply_agencies(session, _catalog_or_exit(runtime)).summary())
    finally:
        runtime.close()


@db.command("current")
def db_current() -> None:
    """Show the database's migration revision and whether it is at head (exit 1 when not)."""
    from gateway.db import Database, StorageUnavailable
    from gateway.migrate import current_revisions, head_revisions, pending_revisions

    database = Database(_settings_or_exit().database_url)
    try:
        current = current_revisions(database)
        pending = pending_revisions(database)
    except StorageUnavailable as exc:
        raise click.ClickException(f"database unavailable: {str(exc).splitlines()[0][:200]}") from None
    finally:
        database.dispose()
    click.echo(f"current: {', '.join(sorted(current)) or '(empty: never migrated)'}")
    click.echo(f"head:    {', '.join(sorted(head_revisions()))}")
    for line in pending:
        click.echo(f"pending {line}")
    if pending:
        click.echo("run `lapor-gateway db upgrade`")
        sys.exit(1)


def _catalog_or_exit(runtime: Any) -> Any:
    return _config_or_exit(runtime).catalog


def _config_or_exit(runtime: Any) -> Any:
    """The runtime's configuration snapshot, or the ConfigError's lines and exit status 2."""
    from config.problems import ConfigError

    try:
        return runtime.config
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)


# --------------------------------------------------------------------------- configuration
@main.group("config")
def config_group() -> None:
    """The deployer's configuration (LAPOR_CONFIG_DIR, config/, environment)."""


@config_group.command("check")
@click.option("--quiet", "-q", is_flag=True, help="print errors only, not warnings")
def config_check(quiet: bool) -> None:
    """Validate every config file and channel variable; one line per problem, exit 1 on an error.

    `web` and `worker` run the same check at start and refuse to start on an error.
    """
    from config.check import check_config
    from config.problems import errors
    from gateway.startup import effective_env

    problems = check_config(effective_env())
    for problem in problems:
        if problem.is_error or not quiet:
            click.echo(str(problem))
    failed = errors(problems)
    click.echo(
        f"{len(failed)} error(s), {len(problems) - len(failed)} warning(s)",
        err=True,
    )
    sys.exit(1 if failed else 0)


# --------------------------------------------------------------------------- agencies
@main.group()
def agencies() -> None:
    """Agencies (OPD) as configured in agencies.yaml."""


@agencies.command("sync")
def agencies_sync() -> None:
    """Make the agencies table match agencies.yaml (also done by `db upgrade`)."""
    from gateway.runtime import Runtime
    from gateway.tickets.seed import apply_agencies

    runtime = Runtime(_settings_or_exit())
    try:
        with runtime.db.session() as session:
            click.echo(apply_agencies(session, _catalog_or_exit(runtime)).summary())
    finally:
        runtime.close()


# --------------------------------------------------------------------------- processes
#: `web`'s own defaults; anything set in GUNICORN_CMD_ARGS wins over them.
GUNICORN_DEFAULTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("--config", "-c"), "python:gateway.gunicorn_conf"),
    (("--threads",), "4"),
    (("--access-logfile",), "-"),
    (("--error-logfile", "--log-file"), "-"),
    (("--logger-class",), "gateway.access_log.JsonGunicornLogger"),
    (("--timeout", "-t"), "30"),
)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a server listens
@click.option("--port", default=lambda: int(os.environ.get("PORT", "5000")), show_default="5000 or $PORT")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=lambda: int(os.environ.get("WEB_CONCURRENCY") or 2),
    show_default="2 or $WEB_CONCURRENCY",
    help="gunicorn worker processes",
)
def web(host: str, port: int, workers: int) -> None:
    """Serve the web app with gunicorn (deployments: see the Procfile).

    More gunicorn options go in GUNICORN_CMD_ARGS (they win over the defaults here).
    Refuses to start on a configuration error or without SECRET_KEY.
    """
    from gateway.metrics import prepare_multiprocess_dir
    from gateway.startup import refuse_on_problems

    refuse_on_problems("web")
    prepare_multiprocess_dir()  # counters summed over gunicorn's workers, fresh at every start
    args = gunicorn_args(host, port, workers)
    os.execv(args[0], args)  # noqa: S606 - replace this process with gunicorn


def gunicorn_args(host: str, port: int, workers: int, env: dict[str, str] | None = None) -> list[str]:
    """The gunicorn command `web` runs: this Python's gunicorn, whatever PATH holds.

    Its logs are the app's JSON, masked (gateway.access_log). Options given in GUNICORN_CMD_ARGS
    are left to gunicorn, which reads that variable itself.
    """
    env = dict(os.environ if env is None else env)
    given = {arg.split("=")[0] for arg in shlex.split(env.get("GUNICORN_CMD_ARGS") or "")}
    args = [sys.executable, "-m", "gunicorn"]
    if not given & {"--bind", "-b"}:
        args += ["--bind", f"{host}:{port}"]
    if not given & {"--workers", "-w"}:
        args += ["--workers", str(workers)]
    for flags, value in GUNICORN_DEFAULTS:
        if not given & set(flags):
            args += [flags[0], value]
    return [*args, "gateway.wsgi:app"]


@main.command()
@click.option("--burst", is_flag=True, help="run the queued jobs, then exit")
@click.option("--no-scheduler", is_flag=True, help="do not run the scheduler/reconciler thread")
@click.option(
    "--send-threads",
    type=click.IntRange(1, 64),
    default=lambda: int(os.environ.get("LAPOR_SEND_THREADS", str(DEFAULT_SEND_THREADS))),
    show_default=f"{DEFAULT_SEND_THREADS} or $LAPOR_SEND_THREADS",
    help="threads sending replies to providers concurrently (each send waits for its provider)",
)
def worker(burst: bool, no_scheduler: bool, send_threads: int) -> None:
    """Run jobs from Redis (one process; start several for more throughput).

    Refuses to start on a configuration error or without SECRET_KEY.
    """
    from gateway.startup import refuse_on_problems
    from gateway.worker import run_worker

    refuse_on_problems("worker")

    run_worker(burst=burst, scheduler=not no_scheduler, send_threads=send_threads)


@main.command()
@click.option("--port", default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-demo", is_flag=True, help="do not seed demo data or stand-in channels")
def run(port: int, host: str, no_demo: bool) -> None:
    """Everything on one machine: Redis, database, web on :5000, a worker, demo data."""
    from gateway.devserver import run_all

    run_all(host=host, port=port, demo=not no_demo)


@main.command()
def demo() -> None:
    """Seed demo agencies, operators and tickets into the configured database."""
    from gateway.demo import prepare_database

    prepare_database(seed_demo=True)
    click.echo("demo data is in place")


# --------------------------------------------------------------------------- people and tokens
@main.group()
def operator() -> None:
    """Operator accounts."""


@operator.command("create")
@click.option("--email", required=True)
@click.option("--name", default=None)
@click.option(
    "--role", type=click.Choice(["admin", "coordinator", "agency"]), default="admin", show_default=True
)
@click.option("--agency", default=None, help="agency code (required for role agency)")
@click.option("--password", default=None, help="prompted for when not given")
def operator_create(
    email: str, name: str | None, role: str, agency: str | None, password: str | None
) -> None:
    """Create an operator (the first admin, typically)."""
    from sqlalchemy import select

    from gateway.models import Agency, Operator
    from gateway.runtime import Runtime
    from gateway.security import hash_password

    if role == "agency" and not agency:
        raise click.UsageError("--agency is required for role 'agency'")
    if password is None:
        password = getpass.getpass("Password: ")
    _check_password(password)
    runtime = Runtime(load_settings())
    with runtime.db.session() as session:
        agency_id = None
        if agency:
            row = session.scalar(select(Agency).where(Agency.code == agency))
            if row is None:
                raise click.UsageError(
                    f"no agency with code {agency!r} (codes are in agencies.yaml; after editing it, "
                    "run `lapor-gateway agencies sync`)"
                )
            agency_id = row.id
        if session.scalar(select(Operator).where(Operator.email == email.lower())):
            raise click.UsageError(f"an operator with email {email} exists")
        session.add(
            Operator(
                email=email.lower(),
                name=name or email.split("@")[0],
                role=role,
                agency_id=agency_id,
                password_hash=hash_password(password),
            )
        )
    click.echo(f"operator {email} ({role}) created")


@operator.command("set-password")
@click.argument("email")
@click.option("--password", default=None, help="prompted for (twice, hidden) when not given")
def operator_set_password(email: str, password: str | None) -> None:
    """Set a new password for the operator with EMAIL (forgotten, or to rotate after someone left).

    The operator's other inbox sessions end at their next request: a session is
    bound to the password it was opened with (see gateway.inbox.auth).
    """
    from sqlalchemy import func, select

    from gateway.models import AuditEntry, Operator
    from gateway.runtime import Runtime
    from gateway.security import hash_password

    runtime = Runtime(load_settings())
    try:
        # Asked only once the account is known: nobody types a password twice for a typo in the email.
        with runtime.db.session() as session:
            if session.scalar(select(Operator.id).where(func.lower(Operator.email) == email.lower())) is None:
                raise click.ClickException(f"no operator has the email {email}")
        if password is None:
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        _check_password(password)
        with runtime.db.session() as session:
            row = session.scalar(select(Operator).where(func.lower(Operator.email) == email.lower()))
            if row is None:  # removed while we were asking
                raise click.ClickException(f"no operator has the email {email}")
            row.password_hash = hash_password(password)
            session.add(
                AuditEntry(
                    actor_label=f"cli:{getpass.getuser()}"[:255],
                    action="cli.operator_password",
                    detail=row.email,
                )
            )
    finally:
        runtime.close()
    click.echo(f"password of {email} changed; their other sessions have ended")


@operator.command("list")
def operator_list() -> None:
    """Every operator: email, name, role, agency, active, last login. Never a password."""
    from sqlalchemy import select

    from gateway.models import Agency, Operator
    from gateway.runtime import Runtime

    runtime = Runtime(_settings_or_exit())
    try:
        with runtime.db.session(write=False) as session:
            rows = session.execute(
                select(Operator, Agency.code)
                .outerjoin(Agency, Operator.agency_id == Agency.id)
                .order_by(Operator.active.desc(), Operator.email)
            ).all()
            lines = [
                (
                    op.email,
                    op.name,
                    op.role,
                    code or "-",
                    "active" if op.active else "disabled",
                    op.last_login_at.strftime("%Y-%m-%d %H:%M") if op.last_login_at else "-",
                )
                for op, code in rows
            ]
    finally:
        runtime.close()
    _table(("EMAIL", "NAME", "ROLE", "AGENCY", "STATE", "LAST LOGIN"), lines)


@operator.command("disable")
@click.argument("email")
def operator_disable(email: str) -> None:
    """Disable the operator with EMAIL: they cannot log in, and their open sessions end now.

    The account stays (tickets and the audit log name it); `operator set-password` does
    not enable it again.
    """
    from sqlalchemy import delete, func, select

    from gateway.models import AuditEntry, InboxSession, Operator
    from gateway.runtime import Runtime

    runtime = Runtime(_settings_or_exit())
    try:
        with runtime.db.session() as session:
            row = session.scalar(select(Operator).where(func.lower(Operator.email) == email.lower()))
            if row is None:
                raise click.ClickException(f"no operator has the email {email}")
            row.active = False
            ended = session.execute(delete(InboxSession).where(InboxSession.operator_id == row.id))
            ended_count = getattr(ended, "rowcount", 0)
            session.add(AuditEntry(actor_label=_cli_actor(), action="cli.operator_disable", detail=row.email))
    finally:
        runtime.close()
    click.echo(f"operator {email} disabled; {ended_count or 0} session(s) ended")


def _table(header: tuple[str, ...], lines: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    for row in [header, *lines]:
        click.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _check_password(password: str) -> None:
    """Refuse what the inbox refuses too (gateway.security holds the one rule)."""
    from gateway.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_problem

    problem = password_problem(password)
    if problem == "too_short":
        raise click.UsageError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if problem == "too_long":
        raise click.UsageError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


@main.group("api-token")
def api_token() -> None:
    """API bearer tokens."""


@api_token.command("create")
@click.argument("name")
@click.option("--agency", default=None, help="scope the token to one agency code")
def api_token_create(name: str, agency: str | None) -> None:
    """Create a token and print it once; only its hash is stored.

    NAME is unique among active tokens, so that `api-token revoke NAME` names one.
    """
    from sqlalchemy import select

    from gateway.api.auth import create_token
    from gateway.models import Agency, ApiToken, AuditEntry
    from gateway.runtime import Runtime

    runtime = Runtime(load_settings())
    try:
        with runtime.db.session() as session:
            taken = select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
            if session.scalar(taken) is not None:
                raise click.UsageError(f"an active token is named {name!r}; revoke it or choose another name")
            agency_id = None
            if agency:
                row = session.scalar(select(Agency).where(Agency.code == agency))
                if row is None:
                    raise click.UsageError(f"no agency with code {agency!r}")
                agency_id = row.id
            created, token = create_token(session, name, agency_id)
            session.add(
                AuditEntry(
                    actor_label=_cli_actor(),
                    action="cli.api_token_create",
                    detail=f"{name} ({created.prefix})",
                )
            )
    finally:
        runtime.close()
    click.echo(token)


@api_token.command("list")
def api_token_list() -> None:
    """Every token: name, visible prefix, agency, created, last used, revoked. Never the token."""
    from sqlalchemy import select

    from gateway.models import Agency, ApiToken
    from gateway.runtime import Runtime

    def when(value: Any) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "-"

    runtime = Runtime(load_settings())
    try:
        with runtime.db.session() as session:
            rows = session.execute(
                select(ApiToken, Agency.code)
                .outerjoin(Agency, ApiToken.agency_id == Agency.id)
                .order_by(ApiToken.revoked_at.is_not(None), ApiToken.name, ApiToken.id)
            ).all()
            lines = [
                (
                    token.name,
                    token.prefix + "...",
                    code or "(all)",
                    when(token.created_at),
                    when(token.last_used_at),
                    f"revoked {when(token.revoked_at)}" if token.revoked_at else "active",
                )
                for token, code in rows
            ]
    finally:
        runtime.close()
    header = ("NAME", "PREFIX", "AGENCY", "CREATED", "LAST USED", "STATE")
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    for row in [header, *lines]:
        click.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@api_token.command("revoke")
@click.argument("name")
def api_token_revoke(name: str) -> None:
    """Revoke the active token named NAME: the API and Open311 refuse it from the next request."""
    from sqlalchemy import select

    from gateway.models import ApiToken, AuditEntry, utcnow
    from gateway.runtime import Runtime

    runtime = Runtime(load_settings())
    try:
        with runtime.db.session() as session:
            rows = session.scalars(
                select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
            ).all()
            if not rows:
                raise click.ClickException(f"no active token is named {name!r} (see `api-token list`)")
            for row in rows:
                row.revoked_at = utcnow()
                session.add(
                    AuditEntry(
                        actor_label=_cli_actor(),
                        action="cli.api_token_revoke",
                        detail=f"{name} ({row.prefix})",
                    )
                )
    finally:
        runtime.close()
    click.echo(f"revoked {len(rows)} token(s) named {name}")


def _cli_actor() -> str:
    """Who ran a command, for the audit log."""
    return f"cli:{getpass.getuser()}"[:255]


# --------------------------------------------------------------------------- channels
@main.command()
@click.argument("channel", type=click.Choice(["sms", "twilio", "whatsapp", "telegram"]))
@click.argument("text", nargs=-1, required=True)
@click.option("--from", "sender", required=True, help="the citizen's address or number")
@click.option("--photo", default=None, help="URL of a photo to attach")
@click.option("--location", default=None, help="LAT,LON of a shared location")
@click.option("--url", default=None, help="gateway base URL (default PUBLIC_BASE_URL)")
@click.option("--wait", default=10.0, show_default=True, help="seconds to wait for replies")
def simulate(
    channel: str,
    text: tuple[str, ...],
    sender: str,
    photo: str | None,
    location: str | None,
    url: str | None,
    wait: float,
) -> None:
    """Post a correctly signed provider webhook to a running gateway and show the replies."""
    from gateway.simulate import simulate_message

    loc = None
    if location:
        try:
            lat, lon = (float(x) for x in location.split(","))
        except ValueError:
            raise click.BadParameter("use LAT,LON, for example -7.2575,112.7521", param_hint="--location")
        loc = (lat, lon)
    settings = load_settings()
    code = simulate_message(
        settings,
        channel,
        sender,
        " ".join(text),
        photo_url=photo,
        location=loc,
        base_url=url,
        wait=wait,
        echo=click.echo,
    )
    sys.exit(code)


@main.group()
def telegram() -> None:
    """Telegram bot setup."""


@telegram.command("set-webhook")
def telegram_set_webhook() -> None:
    """Register PUBLIC_BASE_URL/webhooks/telegram with the secret token at Telegram."""
    from adapters.telegram import TelegramAdapter

    settings = load_settings()
    adapter = TelegramAdapter.from_env(settings.env)
    if adapter is None:
        raise click.UsageError("set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET first")
    secret = settings.get("TELEGRAM_WEBHOOK_SECRET") or ""
    ok = adapter.set_webhook(settings.public_base_url + "/webhooks/telegram", secret)
    click.echo("webhook registered" if ok else "Telegram refused the webhook")
    sys.exit(0 if ok else 1)


from gateway.cli_telegram import telegram_poll  # noqa: E402  (its own module; see there)

telegram.add_command(telegram_poll)


# --------------------------------------------------------------------------- citizens' data requests
@main.group()
def contact() -> None:
    """A citizen's data requests (UU 27/2022): export and erase, both audited."""


@contact.command("export")
@click.argument("address")
def contact_export(address: str) -> None:
    """Print everything stored about the citizen behind ADDRESS as JSON.

    ADDRESS: a phone number as written (0812-..., +62 812 ..., 62812...) or a stored
    address (tel:+62812..., whatsapp:+62812..., telegram:...).
    """
    import json

    from gateway.inbound import address_as_written
    from gateway.privacy_requests import export_contact
    from gateway.runtime import Runtime

    runtime = Runtime(load_settings())
    with runtime.db.session() as session:
        address = address_as_written(session, address)
        data = export_contact(session, address, actor=f"cli:{getpass.getuser()}")
    runtime.close()
    if data is None:
        raise click.ClickException("no contact has this address")
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@contact.command("erase")
@click.argument("address")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def contact_erase(address: str, yes: bool) -> None:
    """Remove the personal data of the citizen behind ADDRESS (their files too); complaints stay, unlinked.

    ADDRESS: a phone number as written or a stored address, as for `contact export`.
    """
    from gateway.inbound import address_as_written
    from gateway.media_store import detach_contact_media, media_backend, remove_unreferenced
    from gateway.privacy_requests import erase_contact, find_contact
    from gateway.runtime import Runtime

    if not yes:
        click.confirm("Erase this citizen's personal data? This cannot be undone", abort=True)
    runtime = Runtime(load_settings())
    with runtime.db.session() as session:
        address = address_as_written(session, address)
        contact = find_contact(session, address)
        files = detach_contact_media(session, contact.id) if contact is not None else set()
        cleared = erase_contact(session, address, actor=f"cli:{getpass.getuser()}")
    if files:
        with runtime.db.session() as session:
            remove_unreferenced(session, media_backend(runtime.settings), files)
    runtime.close()
    if cleared is None:
        raise click.ClickException("no contact has this address")
    click.echo(f"erased; {cleared} messages cleared")


@contact.command("link-numbers")
def contact_link_numbers() -> None:
    """Join the contacts that share a phone number on SMS and WhatsApp (stored before they were
    linked on arrival); each merge is audited."""
    from gateway.models import AuditEntry
    from gateway.runtime import Runtime
    from gateway.tickets.merge import link_phone_numbers

    runtime = Runtime(load_settings())
    with runtime.db.session() as session:
        results = link_phone_numbers(session)
        for result in results:
            session.add(
                AuditEntry(
                    actor_label=f"cli:{getpass.getuser()}",
                    action="contact.merge",
                    detail=f"contact {result.merged} into {result.kept} (same phone number): "
                    f"{result.addresses} addresses, {result.tickets} tickets, {result.messages} messages",
                )
            )
    runtime.close()
    click.echo(f"{len(results)} contacts merged")


# --------------------------------------------------------------------------- notices
from gateway.inbox.digest import digest_cli  # noqa: E402

main.add_command(digest_cli)


# --------------------------------------------------------------------------- routing
@main.group()
def routing() -> None:
    """How well complaints find their agency."""


@routing.command("evaluate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the numbers as JSON")
def routing_evaluate(file: Path, as_json: bool) -> None:
    """Route the labelled complaints in FILE (JSON lines of {"text", "agency"}) and report."""
    import json

    from gateway.routing_eval import EvaluationError, evaluate_file, report, summary
    from gateway.runtime import Runtime

    runtime = Runtime(_settings_or_exit())
    try:
        result = evaluate_file(file, _config_or_exit(runtime))
    except EvaluationError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    click.echo(json.dumps(summary(result)) if as_json else report(result))


@routing.command("train")
def routing_train() -> None:
    """Learn from the coordinator's dispositions; the model is blended with the rules."""
    from gateway.routing_learn import DEFAULT_MIN_CASES, model_path, retrain, settings
    from gateway.runtime import Runtime

    runtime = Runtime(load_settings())
    learned = retrain(runtime)
    if learned is None:
        wanted = settings(runtime).get("min_training_cases", DEFAULT_MIN_CASES)
        click.echo(
            f"too few dispositions to learn from (at least {wanted} of two agencies): routing by rules alone"
        )
        return
    agencies = len(learned.agencies)
    click.echo(
        f"learned from {learned.cases} dispositions ({agencies} agencies); model: {model_path(runtime)}"
    )


if __name__ == "__main__":  # pragma: no cover - `python -m gateway.cli`, as `run` starts its worker
    main()
