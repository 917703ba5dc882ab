"""The inputs of the conversation machine: a citizen's message or a timer going off.

Timeouts are inputs like messages (fired later by the gateway's scheduler), so the
engine never waits and never reads a clock; each carries the state version it was
scheduled at, and a timeout whose conversation moved on since is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.base import InboundMessage


@dataclass(frozen=True)
class MessageReceived:
    """A normalized message from the citizen."""

    message: InboundMessage


@dataclass(frozen=True)
class TimeoutFired:
    """A timer scheduled by ``ScheduleTimeout(kind, delay, version)`` went off."""

    kind: str  # "reminder" or "expire"
    version: int


Event = MessageReceived | TimeoutFired
