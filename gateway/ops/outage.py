"""Saying that a dependency is down once per interval, not as a traceback every second.

A database that is down makes every scheduler pass fail the same way; a full
traceback per pass (9 KB a second) buries the one line an operator needs. The
first failure is logged at once, later ones are counted and summarised once per
``interval``, and the recovery is logged with how long it lasted.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError, OperationalError

from gateway.store.db import StorageUnavailable

log = logging.getLogger(__name__)

#: Seconds between two reports of the same ongoing outage.
REPORT_INTERVAL = 60.0


def is_storage_outage(exc: BaseException) -> bool:
    """The database cannot be reached (as opposed to a bug in a query)."""
    if isinstance(exc, (StorageUnavailable, OperationalError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class OutageReport:
    """One line when ``dependency`` goes down, one per interval while it stays down, one when back."""

    def __init__(self, dependency: str, interval: float = REPORT_INTERVAL) -> None:
        self.dependency = dependency
        self.interval = interval
        self.since: float | None = None
        self._last_report = 0.0
        self._failures = 0

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._failures += 1
        if self.since is None:
            self.since = now
        elif now - self._last_report < self.interval:
            return
        self._last_report = now
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        log.error(
            f"{self.dependency} unavailable for {now - self.since:.0f} s "
            f"({self._failures} failed attempt(s)): {reason}",
        )

    def recovered(self) -> None:
        if self.since is None:
            return
        log.warning(f"{self.dependency} reachable again after {time.monotonic() - self.since:.0f} s")
        self.since, self._failures = None, 0
