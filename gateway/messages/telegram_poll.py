"""Telegram without a public URL: long polling (getUpdates) into the webhook's storage path.

A kecamatan office or a demo laptop has no HTTPS address Telegram could post to. Here the
gateway asks Telegram instead: `poll` fetches updates with python-telegram-bot's getUpdates
and hands each one to the same two steps as ``POST /webhooks/telegram``: the adapter's
`parse_update` and `gateway.messages.ingest.store_parse_result`. So a message is stored once per
provider id (``<chat id>:<message id>``, derived from the update, so an update seen by both
the webhook and the poller, or fetched twice, is one message) and gets the same jobs.

An update is confirmed to Telegram (the next call's ``offset``) only after it is stored: a
poller killed in between fetches it again, and the duplicate check answers it. Telegram
refuses getUpdates while a webhook is set; `poll` checks first (getWebhookInfo) and refuses
too, unless told to delete the webhook, so a forgotten webhook never silently competes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from adapters.base import PayloadError, SendError
from gateway.messages.ingest import store_parse_result
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

CHANNEL = "telegram"
# Seconds one getUpdates call waits for an update (Telegram allows up to 50).
DEFAULT_POLL_TIMEOUT = 25
# Pause after a failed call (network, storage), doubled up to MAX_PAUSE while failures last.
FIRST_PAUSE = 1.0
MAX_PAUSE = 60.0


class PollRefused(Exception):
    """Polling cannot start or go on (a webhook is set, another poller runs, the channel is off)."""


@dataclass
class PollStats:
    """What one run did, for the command's summary and the tests."""

    updates: int = 0
    stored: int = 0
    duplicates: int = 0
    ignored: int = 0
    offset: int | None = None


def prepare(runtime: Runtime, *, delete_webhook: bool) -> None:
    """Refuse to poll while a webhook is set, unless ``delete_webhook``: then delete it (pending
    updates are kept, so nothing sent meanwhile is lost)."""
    adapter = runtime.adapter(CHANNEL)
    if adapter is None:
        raise PollRefused("Telegram is off: set TELEGRAM_BOT_TOKEN")
    url = str(adapter.webhook_info().get("url") or "")  # type: ignore[attr-defined]
    if not url:
        return
    if not delete_webhook:
        raise PollRefused(
            f"a webhook is set ({url}): Telegram sends updates there and refuses getUpdates; "
            "run with --delete-webhook to remove it and poll instead"
        )
    adapter.delete_webhook(drop_pending_updates=False)  # type: ignore[attr-defined]
    log.info("telegram webhook deleted for polling", extra={"url": url})


def poll_once(runtime: Runtime, offset: int | None, timeout: int, stats: PollStats) -> int | None:
    """One getUpdates call, every update stored; the offset that confirms them.

    Raises SendError (Telegram unreachable, or 409) and SQLAlchemyError (storage down): the
    updates of this call are then not confirmed and come again.
    """
    adapter = runtime.adapter(CHANNEL)
    if adapter is None:
        raise PollRefused("Telegram is off: set TELEGRAM_BOT_TOKEN")
    updates = adapter.get_updates(offset, timeout)  # type: ignore[attr-defined]
    for data in updates:
        update_id = data.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            continue  # Telegram always numbers its updates; nothing to confirm or store
        try:
            parsed = adapter.parse_update(data)  # type: ignore[attr-defined]
        except PayloadError as exc:
            log.warning("telegram update refused", extra={"update_id": update_id, "reason": str(exc)})
            parsed = None
        if parsed is not None:
            stored = store_parse_result(runtime, CHANNEL, parsed)
            stats.stored += stored.new_messages
            stats.duplicates += stored.duplicates
            stats.ignored += len(parsed.ignored)
        stats.updates += 1
        offset = update_id + 1
        stats.offset = offset
    return offset


def poll(
    runtime: Runtime,
    *,
    delete_webhook: bool = False,
    timeout: int = DEFAULT_POLL_TIMEOUT,
    stop: threading.Event | None = None,
    once: bool = False,
) -> PollStats:
    """Poll until ``stop`` is set (or after one call with ``once``); see the module docstring.

    Network and storage failures pause and retry (the unconfirmed updates come again); a 409
    (a webhook was set meanwhile, or a second poller took over) ends the run with PollRefused.
    """
    stop = stop or threading.Event()
    prepare(runtime, delete_webhook=delete_webhook)
    stats = PollStats()
    offset: int | None = None
    pause = FIRST_PAUSE
    while not stop.is_set():
        try:
            offset = poll_once(runtime, offset, 0 if once else timeout, stats)
            pause = FIRST_PAUSE
        except SendError as exc:
            if exc.code == "409":
                raise PollRefused(str(exc)) from exc
            if exc.code == "401":
                raise PollRefused("Telegram rejected TELEGRAM_BOT_TOKEN") from exc
            log.warning("telegram getUpdates failed, retrying", extra={"reason": exc.reason, "pause": pause})
            if once:
                raise
            stop.wait(exc.retry_after or pause)
            pause = min(pause * 2, MAX_PAUSE)
        except SQLAlchemyError as exc:
            log.error("storage unavailable while polling telegram", extra={"error": type(exc).__name__})
            if once:
                raise
            stop.wait(pause)
            pause = min(pause * 2, MAX_PAUSE)
        if once:
            break
    if once and offset is not None:
        # Confirm what was stored, so a later run (or the webhook) does not get it again.
        runtime.adapter(CHANNEL).get_updates(offset, 0, limit=1)  # type: ignore[union-attr]
    return stats
