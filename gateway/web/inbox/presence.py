"""Who else has a ticket open, and whether they are typing: short-lived marks in Redis.

Each open thread page reports every few seconds (`views_notices.presence`); a
report is kept for `TTL` seconds, so a closed tab drops out by itself and nothing
needs cleaning. Only the operator's id, name and a typing flag are kept: no text.
Redis being away only silences the warning; the page works without it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Final

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

#: Seconds a report counts: a few polling intervals, so one late poll does not make someone vanish.
TTL: Final = 20
_KEY = "lapor:presence:{ticket_id}"


@dataclass(frozen=True)
class Present:
    operator_id: int
    name: str
    typing: bool


def report(redis: Any, ticket_id: int, operator_id: int, name: str, typing: bool) -> None:
    """Record that ``operator_id`` has the ticket open (and is typing, or not) now."""
    key = _KEY.format(ticket_id=ticket_id)
    value = json.dumps({"name": name, "typing": bool(typing), "at": time.time()})
    try:
        pipe = redis.pipeline()
        pipe.hset(key, str(operator_id), value)
        pipe.expire(key, TTL * 3)
        pipe.execute()
    except RedisError as exc:
        log.warning("presence not recorded", extra={"error": type(exc).__name__})


def others(redis: Any, ticket_id: int, operator_id: int) -> list[Present]:
    """The other operators who reported on the ticket in the last `TTL` seconds."""
    try:
        rows = redis.hgetall(_KEY.format(ticket_id=ticket_id))
    except RedisError as exc:
        log.warning("presence not read", extra={"error": type(exc).__name__})
        return []
    now = time.time()
    found = []
    for raw_id, raw in rows.items():
        try:
            other = int(raw_id)
            entry = json.loads(raw)
            fresh = now - float(entry["at"]) <= TTL
        except (ValueError, KeyError, TypeError):
            continue
        if other != operator_id and fresh:
            found.append(Present(other, str(entry.get("name") or ""), bool(entry.get("typing"))))
    return sorted(found, key=lambda p: p.name)
