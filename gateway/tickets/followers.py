"""Following a ticket on Telegram: the web form's deep-link handshake (issue 20, part 3).

A Telegram bot cannot write to a user first, and a username is no address: the web form
cannot take "my Telegram is @budi" and send updates there. So the receipt page offers a
link, ``https://t.me/<bot>?start=<code>``; opening it makes the citizen's app send
``/start <code>`` to the bot, which the engine reads as a `FollowTicket` effect and
`follow` carries out: the chat becomes a *follower* of the ticket (a `TicketSupporter` row
with role "follower", see docs/channels.md), so every status update reaches it, in the
chat's language, the way a supporter's does (`gateway.tickets.supporters.tell_supporters`).
A follower is not a reporter: never counted, never raising the ticket in the inbox.

The code names the ticket and when the link expires, signed with SECRET_KEY: nobody can
follow a ticket whose receipt they did not see, and a receipt passed around later stops
working. It fits Telegram's start parameter (at most 64 of A-Za-z0-9_-).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations import texts
from conversations.notify import status_label
from gateway.messages.outgoing import queue_message
from gateway.store.models import Contact, Ticket
from gateway.tickets import supporters
from gateway.tickets.citizen_updates import max_length

if TYPE_CHECKING:
    from gateway.runtime import Runtime

CHANNEL = "telegram"
_SALT = b"lapor-follow-telegram"
#: How long a receipt's link works, unless supporters.yaml sets ``follow_link_days``.
LINK_DAYS = 7
_CODE = re.compile(r"^f([0-9A-Za-z]{1,20})_([0-9a-z]{1,8})_([A-Za-z0-9_-]{16})$")
_USERNAME = re.compile(r"^[A-Za-z0-9_]{5,32}$")


def _signature(secret_key: str, body: str) -> str:
    digest = hmac.new(hashlib.sha256(_SALT + secret_key.encode()).digest(), body.encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()[:12]).decode().rstrip("=")


def issue_code(secret_key: str, tracking: str, days: float = LINK_DAYS, now: float | None = None) -> str:
    """The start parameter naming ``tracking`` until ``days`` from now (about 35 characters)."""
    expires = int((time.time() if now is None else now) + days * 86400)
    body = f"f{tracking}_{_base36(expires)}"
    return f"{body}_{_signature(secret_key, body)}"


def read_code(secret_key: str, code: str, now: float | None = None) -> tuple[str | None, str]:
    """(tracking, "ok") for a good code; (None, "invalid") or (tracking, "expired") otherwise."""
    found = _CODE.match(code)
    if found is None:
        return None, "invalid"
    tracking, expires, signature = found.groups()
    if not hmac.compare_digest(signature, _signature(secret_key, f"f{tracking}_{expires}")):
        return None, "invalid"
    if int(expires, 36) < (time.time() if now is None else now):
        return tracking, "expired"
    return tracking, "ok"


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def link_days(runtime: Runtime) -> float:
    data = runtime.config.data.get("supporters.yaml") or {}
    value = data.get("follow_link_days", LINK_DAYS) if isinstance(data, dict) else LINK_DAYS
    return float(value)


# --------------------------------------------------------------------------- the link
def bot_username(runtime: Runtime) -> str | None:
    """The bot's username: TELEGRAM_BOT_USERNAME when set, else the Bot API's getMe (asked once
    per process by the adapter); None when the channel is off or Telegram cannot be reached."""
    adapter: Any = runtime.adapter(CHANNEL)
    if adapter is None:
        return None
    configured = (runtime.settings.get("TELEGRAM_BOT_USERNAME") or "").strip().lstrip("@")
    if configured:
        return configured if _USERNAME.match(configured) else None
    name = adapter.bot_username()
    return name if isinstance(name, str) and _USERNAME.match(name) else None


def deep_link(runtime: Runtime, tracking: str) -> str | None:
    """``https://t.me/<bot>?start=<code>`` for following ``tracking``; None without Telegram."""
    username = bot_username(runtime)
    if username is None:
        return None
    code = issue_code(runtime.settings.secret_key, tracking, link_days(runtime))
    return f"https://t.me/{username}?start={code}"


# --------------------------------------------------------------------------- /start <code>
def follow(
    session: Session,
    runtime: Runtime,
    contact: Contact,
    code: str,
    channel: str,
    address: str,
    language: str,
    key: str,
) -> str:
    """``/start <code>`` from ``contact``: the outcome ("following", "already", "own",
    "expired", "invalid"), answered on the chat it came from.

    An unknown ticket answers like a forged code: the code is signed, so it is one.
    """
    tracking, outcome = read_code(runtime.settings.secret_key, code)
    ticket = None
    if outcome == "ok" and tracking is not None:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        if ticket is None:
            outcome = "invalid"
        elif ticket.contact_id == contact.id:
            outcome = "own"
        elif supporters.add_follower(session, ticket, contact.id, channel, address, language) is None:
            outcome = "already"
        else:
            outcome = "following"
    text = texts.fit(
        runtime.config,
        f"follow.{outcome}",
        language,
        max_length(runtime, channel),
        tracking=tracking or "",
        status=status_label(runtime.config, ticket.status, language) if ticket is not None else "",
    )
    queue_message(
        session,
        channel=channel,
        address=address,
        text=text,
        contact_id=contact.id,
        dedupe_key=f"follow:{key}",
        ticket_id=ticket.id if ticket is not None else None,
        language=language,
    )
    return outcome
