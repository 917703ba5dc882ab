"""`lapor-gateway simulate`: a correctly signed provider webhook, then the replies it caused.

It signs with the same settings the gateway uses (for `run`, the stand-in
channels recorded in LAPOR_DATA_DIR/channels.env), so a deployer can try a
channel end to end without a phone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import requests
from sqlalchemy import select

from adapters import adapter_class
from config.settings import Settings
from gateway.store.db import Database
from gateway.store.models import Message, utcnow


def simulate_message(
    settings: Settings,
    channel: str,
    sender: str,
    text: str,
    *,
    photo_url: str | None = None,
    location: tuple[float, float] | None = None,
    base_url: str | None = None,
    wait: float = 10.0,
    echo: Callable[[str], None] = print,
) -> int:
    """Post one inbound webhook and print the replies; returns a process exit code."""
    adapter = adapter_class(channel).from_env(settings.env)
    if adapter is None:
        echo(f"channel {channel!r} is not configured here; set its variables or start `lapor-gateway run`")
        return 2
    request = adapter.simulate(sender, text, photo_url=photo_url, location=location)
    url = (base_url or settings.public_base_url).rstrip("/") + request.path
    started = utcnow() - timedelta(seconds=1)
    try:
        response = requests.request(
            request.method, url, headers=dict(request.headers), data=request.body, timeout=15
        )
    except requests.RequestException as exc:
        echo(f"could not reach the gateway at {url}: {exc}")
        return 3
    echo(f"-> {channel} webhook answered {response.status_code}")
    if response.status_code >= 400:
        echo(response.text[:500])
        return 1
    db = Database(settings.database_url)
    try:
        return _show_replies(db, channel, started, wait, echo)
    finally:
        db.dispose()


def _show_replies(
    db: Database, channel: str, started: object, wait: float, echo: Callable[[str], None]
) -> int:
    deadline = time.time() + wait
    shown: set[int] = set()
    contact_id = None
    quiet_since = None
    while time.time() < deadline:
        with db.session() as session:
            if contact_id is None:
                contact_id = session.scalar(
                    select(Message.contact_id)
                    .where(
                        Message.direction == "in", Message.channel == channel, Message.created_at >= started
                    )
                    .order_by(Message.id.desc())
                )
            replies: Sequence[Message] = []
            if contact_id is not None:
                replies = session.scalars(
                    select(Message)
                    .where(
                        Message.contact_id == contact_id,
                        Message.direction == "out",
                        Message.created_at >= started,
                    )
                    .order_by(Message.id)
                ).all()
        settled = True
        for reply in replies:
            if reply.delivery_status in ("pending", "sending", "calling"):
                settled = False
                continue
            if reply.id not in shown:
                shown.add(reply.id)
                echo(f"<- [{reply.delivery_status}] {reply.text}")
        if shown and settled:
            quiet_since = quiet_since or time.time()
            if time.time() - quiet_since > 1.0:
                return 0
        time.sleep(0.2)
    if not shown:
        echo("no reply yet (is the worker running?)")
        return 1
    return 0
