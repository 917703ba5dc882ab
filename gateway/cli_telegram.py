"""`lapor-gateway telegram poll`: Telegram by long polling, for hosts without a public URL.

A module of its own, registered on the `telegram` group of `gateway.cli`, so that the
command line's main module only names it.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click


@click.command("poll")
@click.option(
    "--delete-webhook",
    is_flag=True,
    help="delete a webhook set at Telegram first (otherwise polling refuses to start while one is set)",
)
@click.option(
    "--timeout",
    default=25,
    show_default=True,
    type=click.IntRange(0, 50),
    help="seconds each getUpdates call waits for an update",
)
@click.option("--once", is_flag=True, help="fetch and store what is waiting, then exit")
def telegram_poll(delete_webhook: bool, timeout: int, once: bool) -> None:
    """Receive Telegram updates by long polling (getUpdates) instead of the webhook.

    Updates are stored and processed exactly as POST /webhooks/telegram would; run a worker too.
    """
    from gateway.cli_settings import settings_or_exit
    from gateway.runtime import Runtime
    from gateway.telegram_poll import PollRefused, poll

    runtime = Runtime(settings_or_exit())
    stop = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        click.echo("stopping after the current getUpdates call", err=True)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    try:
        if not once:
            click.echo(f"polling Telegram (getUpdates, {timeout} s long polls); Ctrl+C stops")
        stats = poll(runtime, delete_webhook=delete_webhook, timeout=timeout, stop=stop, once=once)
    except PollRefused as exc:
        click.echo(f"telegram poll: {exc}", err=True)
        sys.exit(1)
    finally:
        runtime.close()
    click.echo(
        f"{stats.updates} update(s): {stats.stored} message(s) stored, "
        f"{stats.duplicates} duplicate(s), {stats.ignored} ignored"
    )
