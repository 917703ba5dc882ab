"""The runtime's configuration snapshot: built once, rebuilt when a file changes or on SIGHUP.

`Runtime.config` hands out the current `ConfigSnapshot`. The config folders are looked at
at most once a second (a `stat` of each watched file: cheap, and a deployer's edit shows
within a second, as before); a change, or a SIGHUP, builds a new snapshot from
`config.files.read_config` (the loader `lapor-gateway config check` runs). A snapshot that
fails to build leaves the last good one in place and logs each problem: a typo saved in
production must not stop the gateway answering. Whoever takes a snapshot keeps it for the
whole turn, so a reload never changes the config under a running turn.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from config.files import Stamp, read_config, stamp
from config.problems import ConfigError
from conversations.snapshot import ConfigSnapshot

log = logging.getLogger(__name__)

#: Seconds between looks at the config folders' modification times.
CHECK_INTERVAL = 1.0


class ConfigSource:
    """The current snapshot of the configuration ``env`` points at (LAPOR_CONFIG_DIR)."""

    def __init__(
        self,
        env: Mapping[str, str],
        interval: float = CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._env = env
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: ConfigSnapshot | None = None
        self._stamp: Stamp | None = None
        self._checked = 0.0
        self._requested = False

    def current(self) -> ConfigSnapshot:
        """The snapshot in effect; built on first use (ConfigError when the config is invalid)."""
        snapshot = self._snapshot
        if snapshot is not None and not self._requested and self._clock() - self._checked < self._interval:
            return snapshot
        with self._lock:
            if self._snapshot is None:
                self._build(stamp(self._env))
            elif self._requested or self._clock() - self._checked >= self._interval:
                self._refresh(force=self._requested)
            assert self._snapshot is not None
            return self._snapshot

    def reload(self) -> None:
        """Rebuild now, whatever the files' times say (SIGHUP; a test after an edit)."""
        with self._lock:
            if self._snapshot is None:
                self._build(stamp(self._env))
            else:
                self._refresh(force=True)

    def request_reload(self) -> None:
        """Rebuild on the next use: safe in a signal handler, which must not take the lock."""
        self._requested = True

    def _refresh(self, force: bool) -> None:
        self._requested = False
        self._checked = self._clock()
        now = stamp(self._env)
        if not force and now == self._stamp:
            return
        try:
            self._build(now)
        except ConfigError as exc:
            self._stamp = now  # not retried until the files change again
            for problem in exc.problems:
                log.error("config not reloaded: %s", problem)
        else:
            log.info("config reloaded")

    def _build(self, now: Stamp) -> None:
        self._snapshot = ConfigSnapshot.build(read_config(self._env))
        self._stamp = now
        self._checked = self._clock()


def reload_on_sighup(reload: Callable[[], None]) -> None:
    """Call ``reload`` on SIGHUP (main thread only; a no-op where the platform has no SIGHUP)."""
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None or threading.current_thread() is not threading.main_thread():
        return

    def handler(_signum: int, _frame: Any) -> None:
        reload()

    signal.signal(hangup, handler)
