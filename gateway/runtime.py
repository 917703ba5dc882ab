"""Everything a process builds once: settings, database, queue, adapters, config data.

The web app and the worker each hold one `Runtime`; job handlers receive it as
their context, so a worker opens one database pool, one Redis connection and one
client per provider for its whole life rather than one per job. The config data is
the exception that is rebuilt: `config` is the current immutable snapshot of the
deployer's files (gateway.config_snapshot), renewed when a file changes or on SIGHUP.
"""

from __future__ import annotations

import threading
from typing import Any

from adapters import adapter_class
from adapters.base import ChannelAdapter
from config.catalog import Catalog
from config.settings import Settings, load_settings
from conversations.snapshot import ConfigSnapshot
from gateway.config_snapshot import ConfigSource
from gateway.store.db import DEFAULT_POOL_SIZE, Database
from gateway.work.outbox import push_commits_to
from gateway.work.queue import JobQueue


class Runtime:
    """The long-lived parts of one process."""

    def __init__(self, settings: Settings | None = None, threads: int | None = None) -> None:
        """``threads``: how many of this process's threads may use the database at once (the
        worker's send threads and its own), the pool's size unless LAPOR_DB_POOL_SIZE says."""
        self.settings = settings or load_settings()
        self.db = Database(
            self.settings.database_url,
            pool_size=self.settings.db_pool_size or max(threads or 0, DEFAULT_POOL_SIZE),
            max_overflow=self.settings.db_max_overflow,
            prepare_threshold=self.settings.db_prepare_threshold,
        )
        self.queue: JobQueue | None = JobQueue(self.settings.redis_url) if self.settings.redis_url else None
        push_commits_to(self.db, self.queue)
        self._adapters: dict[str, ChannelAdapter | None] = {}
        self._lock = threading.Lock()
        self._config = ConfigSource(self.settings.env)

    @property
    def config(self) -> ConfigSnapshot:
        """The configuration snapshot in effect (LAPOR_CONFIG_DIR first, then the shipped config/).

        Take it once per turn and keep it: two reads may straddle a reload."""
        return self._config.current()

    @property
    def catalog(self) -> Catalog:
        """Agencies, categories and deadlines of the snapshot in effect."""
        return self.config.catalog

    def reload_config(self) -> None:
        """Rebuild the snapshot now (a broken file keeps the last good one, logged)."""
        self._config.reload()

    def request_config_reload(self) -> None:
        """Rebuild the snapshot on its next use; what SIGHUP does (no lock in a signal handler)."""
        self._config.request_reload()

    def adapter(self, channel: str) -> ChannelAdapter | None:
        """The channel's adapter, built on first use; None when the channel is off."""
        with self._lock:
            if channel not in self._adapters:
                try:
                    cls = adapter_class(channel)
                except (KeyError, ImportError):
                    self._adapters[channel] = None
                else:
                    self._adapters[channel] = cls.from_env(self.settings.env)
            return self._adapters[channel]

    def enabled_channels(self) -> list[str]:
        from adapters import ADAPTERS

        return [name for name in ADAPTERS if self.adapter(name) is not None]

    def close(self) -> None:
        for adapter in self._adapters.values():
            if adapter is not None:
                adapter.close()
        self.db.dispose()

    def info(self) -> dict[str, Any]:
        return {"database": self.db.url.split("@")[-1], "redis": bool(self.queue)}
