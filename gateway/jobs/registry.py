"""Job kinds and their handlers.

A handler is ``fn(ctx: JobContext, payload: dict) -> None`` and must be safe to
run twice: the outbox guarantees at-least-once, never exactly-once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HandlerFn = Callable[[Any, dict[str, Any]], None]
HANDLERS: dict[str, HandlerFn] = {}


class RetryLater(Exception):
    """Raise from a handler to run it again after ``delay`` seconds.

    ``counts`` False means the retry does not use up an attempt (for example a
    per-contact lock held by another job), so a busy contact never exhausts a job.
    """

    def __init__(self, reason: str, delay: float, *, counts: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
        self.counts = counts


class GiveUp(Exception):
    """Raise from a handler when trying again cannot help; the job is marked failed."""


def handler(kind: str) -> Callable[[HandlerFn], HandlerFn]:
    """Register ``fn`` as the handler of job ``kind``."""

    def register(fn: HandlerFn) -> HandlerFn:
        if kind in HANDLERS and HANDLERS[kind] is not fn:
            raise ValueError(f"job kind {kind!r} registered twice")
        HANDLERS[kind] = fn
        return fn

    return register
