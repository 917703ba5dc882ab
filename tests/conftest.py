"""Shared fixtures: a real Redis, a real database, loopback providers, and the app.

* Redis: REDIS_URL when given, else a redis-server this session starts on a free port.
* Database: SQLite in a temp dir, or PostgreSQL when TEST_DATABASE_URL is set
  (a fresh database is created there for the session). Migrations build the schema.
* Providers: one loopback stand-in per provider for the whole session, cleared per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config.settings import Settings, load_settings
from gateway.devtools.embedded_redis import EmbeddedRedis
from gateway.store.db import Database
from gateway.store.migrate import upgrade
from gateway.store.models import Base
from tests.catalogue import CATALOGUE


# --------------------------------------------------------------------------- Redis
@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    given = os.environ.get("REDIS_URL")
    if given:
        # Each xdist worker gets its own database number, since tests flush it.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        index = 1 + int("".join(ch for ch in worker if ch.isdigit()) or 0)
        yield make_url(given).set(database=str(index % 16)).render_as_string(hide_password=False)
        return
    with EmbeddedRedis(None, persist=False) as server:
        yield server.url


# --------------------------------------------------------------------------- database
def _fresh_postgres(url: str) -> str:
    """A new empty database on the server of ``url``; returns its URL."""
    import psycopg

    parsed = make_url(url)
    name = f"lapor_test_{uuid.uuid4().hex[:8]}"
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def _drop_postgres(url: str) -> None:
    import psycopg

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        url = _fresh_postgres(given)
        db = Database(url)
        upgrade(db)
        db.dispose()
        yield url
        _drop_postgres(url)
        return
    path = tmp_path_factory.mktemp("db") / "test.db"
    url = f"sqlite:///{path}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    yield url


def _truncate(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        if db.is_sqlite:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 - our own table names
        else:
            conn.execute(
                text("TRUNCATE " + ", ".join(f'"{n}"' for n in tables) + " RESTART IDENTITY CASCADE")
            )
    db.dispose()


# --------------------------------------------------------------------------- providers
@pytest.fixture(scope="session")
def providers() -> Iterator[dict[str, Any]]:
    """One running stand-in per provider, shared by the session."""
    from gateway.devtools.loopback.meta import MetaStandIn
    from gateway.devtools.loopback.sms import SmsStandIn
    from gateway.devtools.loopback.telegram import TelegramStandIn
    from gateway.devtools.loopback.twilio import TwilioStandIn

    started = {
        "sms": SmsStandIn(api_key="test-key", api_secret="test-secret").start(),
        "twilio": TwilioStandIn(account_sid="AC" + "1" * 32, auth_token="twilio-test-token").start(),
        "whatsapp": MetaStandIn(access_token="meta-test-token", phone_number_id="106540352242922").start(),
        "telegram": TelegramStandIn(token="123456:TEST-token").start(),
    }
    yield started
    for provider in started.values():
        provider.stop()


def channel_env(providers: dict[str, Any]) -> dict[str, str]:
    """Settings that point every channel at its stand-in."""
    return {
        "SMS_SIGNATURE_SECRET": "sms-signing-secret",
        "SMS_PROFILE": "vonage",
        "SMS_API_BASE_URL": providers["sms"].base_url,
        "SMS_API_KEY": "test-key",
        "SMS_API_SECRET": "test-secret",
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "twilio-test-token",
        "TWILIO_API_BASE_URL": providers["twilio"].base_url,
        "TWILIO_SMS_FROM": "+15005550006",
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "WHATSAPP_ACCESS_TOKEN": "meta-test-token",
        "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
        "WHATSAPP_APP_SECRET": "meta-app-secret",
        "WHATSAPP_VERIFY_TOKEN": "meta-verify",
        "WHATSAPP_API_BASE_URL": providers["whatsapp"].api_base_url,
        "TELEGRAM_BOT_TOKEN": "123456:TEST-token",
        "TELEGRAM_WEBHOOK_SECRET": "telegram-secret",
        "TELEGRAM_API_BASE_URL": providers["telegram"].base_url,
        "SMS_TIMEOUT": "2",
        "TWILIO_TIMEOUT": "2",
        "WHATSAPP_TIMEOUT": "2",
        "TELEGRAM_TIMEOUT": "2",
    }


# --------------------------------------------------------------------------- configuration
@pytest.fixture(scope="session")
def config() -> Any:
    """The configuration snapshot of the test catalogue, for engine steps (Context.config)."""
    from tests.catalogue import catalogue_config

    return catalogue_config()


# --------------------------------------------------------------------------- the gateway
@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str, providers: dict[str, Any]) -> Settings:
    _truncate(database_url)
    Redis.from_url(redis_url).flushdb()
    for provider in providers.values():
        provider.clear()
    env = {
        "LAPOR_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_BASE_URL": "http://localhost:5000",
        "LAPOR_CONFIG_DIR": str(CATALOGUE),  # the tests' own, not the shipped config/
        **channel_env(providers),
    }
    return load_settings(env, testing=True)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Any]:
    from gateway.devtools.demo import sync_agencies
    from gateway.runtime import Runtime

    runtime = Runtime(settings)
    sync_agencies(runtime)
    yield runtime
    runtime.close()


@pytest.fixture
def app(runtime: Any) -> Any:
    from gateway.app import create_app

    return create_app(runtime=runtime, WTF_CSRF_ENABLED=False)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def drain(runtime: Any):  # type: ignore[no-untyped-def]
    """Run queued jobs with a real rq worker (burst) until nothing due is left."""
    from tests.helpers import drain_jobs

    return lambda **kw: drain_jobs(runtime, **kw)
