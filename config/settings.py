"""Settings from the environment, with the defaults ARCHITECTURE.md fixes.

One frozen object built once per process; everything else receives it rather
than reading ``os.environ`` itself, so tests can build a gateway from a dict.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """The gateway's settings. ``env`` keeps every variable for the channel adapters."""

    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    public_base_url: str
    config_dir: str | None
    env: Mapping[str, str] = field(default_factory=dict)
    # Seconds between reconciler passes (finds jobs recorded but lost from Redis).
    reconcile_interval: float = 30.0
    # A job running longer than this is presumed abandoned by a dead worker.
    job_stuck_after: float = 120.0
    # How long a multipart SMS waits for its missing parts before it is released.
    sms_concat_timeout: float = 120.0
    # Trust this many proxies in front (X-Forwarded-For/Proto/Host) for signature URLs.
    proxy_count: int = 0
    # Per-sender inbound messages per minute before the gateway throttles replies.
    sender_rate_per_minute: int = 30
    # Largest webhook body accepted, in bytes.
    max_body_bytes: int = 1_048_576
    # Months after closing before a ticket's contact data is anonymized (0 = never).
    retention_months: int = 24
    # Seconds a signed media link (forward targets, providers, the citizen) stays valid.
    media_url_ttl: int = 7 * 24 * 3600
    testing: bool = False

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        return value if value not in (None, "") else default


CHANNELS_ENV = "channels.env"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a file, or nothing when it does not exist."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _secret_key(data_dir: Path, env: Mapping[str, str]) -> str:
    """SECRET_KEY, or one generated once into the data dir so sessions survive restarts."""
    if env.get("SECRET_KEY"):
        return env["SECRET_KEY"]
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``env`` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("LAPOR_DATA_DIR") or "./instance").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # `lapor-gateway run` writes the settings of its stand-in channels here, so
    # that `simulate` and the worker see the same ones; real variables win.
    env = read_env_file(data_dir / CHANNELS_ENV) | env
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'lapor.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": env.get("REDIS_URL") or None,
        "secret_key": _secret_key(data_dir, env),
        "public_base_url": (env.get("PUBLIC_BASE_URL") or "http://localhost:5000").rstrip("/"),
        "config_dir": env.get("LAPOR_CONFIG_DIR") or None,
        "env": env,
    }
    numeric = {
        "LAPOR_RECONCILE_INTERVAL": ("reconcile_interval", float),
        "LAPOR_JOB_STUCK_AFTER": ("job_stuck_after", float),
        "LAPOR_SMS_CONCAT_TIMEOUT": ("sms_concat_timeout", float),
        "LAPOR_PROXY_COUNT": ("proxy_count", int),
        "LAPOR_SENDER_RATE_PER_MINUTE": ("sender_rate_per_minute", int),
        "LAPOR_MAX_BODY_BYTES": ("max_body_bytes", int),
        "LAPOR_RETENTION_MONTHS": ("retention_months", int),
        "LAPOR_MEDIA_URL_TTL": ("media_url_ttl", int),
    }
    for var, (attr, cast) in numeric.items():
        if env.get(var):
            values[attr] = cast(env[var])
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
