"""The database pool and prepared statements follow the environment (issue 21).

LAPOR_DB_POOL_SIZE, LAPOR_DB_MAX_OVERFLOW and LAPOR_DB_PREPARE_THRESHOLD reach the engine a
process builds; unset, a process's pool is its thread count (at least 5), so the worker's
send threads do not open and close PostgreSQL connections under load. Malformed values are
refused by `lapor-gateway config check` (tests/gateway/test_config_check.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from config.settings import Settings, load_settings
from gateway.runtime import Runtime


def _with(settings: Settings, **env: str) -> Settings:
    return replace(load_settings({**settings.env, **env}), testing=True)


def test_the_environment_sizes_the_pool_and_prepares(settings: Settings) -> None:
    chosen = _with(
        settings, LAPOR_DB_POOL_SIZE="12", LAPOR_DB_MAX_OVERFLOW="0", LAPOR_DB_PREPARE_THRESHOLD="off"
    )
    assert (chosen.db_pool_size, chosen.db_max_overflow, chosen.db_prepare_threshold) == (12, 0, None)
    runtime = Runtime(chosen, threads=40)
    try:
        if runtime.db.is_sqlite:
            pytest.skip("SQLite's pool is SQLAlchemy's default; the settings are for PostgreSQL")
        pool: Any = runtime.db.engine.pool
        assert (pool.size(), pool._max_overflow) == (12, 0)  # the variable wins over the thread count
        with runtime.db.engine.connect() as conn:
            assert conn.connection.driver_connection.prepare_threshold is None
    finally:
        runtime.close()


def test_unset_the_pool_is_the_thread_count(settings: Settings) -> None:
    assert _with(settings, LAPOR_DB_PREPARE_THRESHOLD="0").db_prepare_threshold == 0
    runtime = Runtime(settings, threads=34)
    few = Runtime(settings, threads=2)
    try:
        if runtime.db.is_sqlite:
            pytest.skip("SQLite's pool is SQLAlchemy's default; the settings are for PostgreSQL")
        assert runtime.db.engine.pool.size() == 34  # type: ignore[attr-defined]
        assert few.db.engine.pool.size() == 5  # type: ignore[attr-defined]
        with runtime.db.engine.connect() as conn:
            assert conn.connection.driver_connection.prepare_threshold == 5  # psycopg's own default
    finally:
        runtime.close()
        few.close()
