"""Everything a process builds once: settings, database, queue, adapters, config data.

The web app and the worker each hold one `Runtime`; job handlers receive it as
their context, so a worker opens one database pool, one Redis connection and one
client per provider for its whole life rather than one per job.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from adapters import adapter_class
from adapters.base import ChannelAdapter
from config.settings import Settings, load_settings
from gateway.catalog import Catalog
from gateway.db import Database
from gateway.jobs.outbox import push_commits_to
from gateway.jobs.queue import JobQueue


class Runtime:
    """The long-lived parts of one process."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.db = Database(self.settings.database_url)
        self.queue: JobQueue | None = JobQueue(self.settings.redis_url) if self.settings.redis_url else None
        push_commits_to(self.db, self.queue)
        self._adapters: dict[str, ChannelAdapter | None] = {}
        self._lock = threading.Lock()

    @cached_property
    def catalog(self) -> Catalog:
        """Agencies, categories and deadlines from config/ (the deployer's copy first)."""
        return Catalog.load(self.settings.env)

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
