"""Settings from the environment, with the defaults ARCHITECTURE.md fixes.

One frozen object built once per process; everything else receives it rather
than reading ``os.environ`` itself, so tests can build a gateway from a dict.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    ValidationError,
)

from config.problems import WARNING, ConfigError, Problem

ENVIRONMENT = "environment"


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
    # PostgreSQL connections a process keeps open (None: its thread count, at least 5; see
    # gateway.store.db.make_engine), more opened for a burst and closed after, and executions of one
    # statement text on a connection before psycopg prepares it (None: never, for a pooler
    # that cannot keep prepared statements).
    db_pool_size: int | None = None
    db_max_overflow: int = 10
    db_prepare_threshold: int | None = 5
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


SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


def _secret_key(data_dir: Path, env: Mapping[str, str]) -> str:
    """SECRET_KEY, else the one `lapor-gateway run` wrote into the data dir, else "".

    Never generated here: a key made up per host and directory signed sessions that the
    next host rejected. `web` and `worker` refuse to start without SECRET_KEY
    (`require_secret_key`); only `run`, one machine by definition, makes one.
    """
    if env.get("SECRET_KEY"):
        return env["SECRET_KEY"]
    path = data_dir / SECRET_KEY_FILE
    return path.read_text().strip() if path.exists() else ""


def ensure_secret_key(data_dir: Path) -> str:
    """The data dir's secret key, generated once (for `lapor-gateway run` only)."""
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def require_secret_key(env: Mapping[str, str]) -> list[Problem]:
    """`web` and `worker`: SECRET_KEY must come from the environment, the same on every host."""
    if env.get("SECRET_KEY"):
        return []
    return [
        Problem(
            ENVIRONMENT,
            "is not set; set the same long random value on every host (python -c "
            "'import secrets; print(secrets.token_hex(32))')",
            key="SECRET_KEY",
        )
    ]


# --------------------------------------------------------------------------- environment variables
class Environment(BaseModel):
    """The variables with a shape to check, by their names. Unset or empty means the default."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    public_base_url: Annotated[str, StringConstraints(pattern=r"^https?://[^/\s]+")] | None = Field(
        None, alias="PUBLIC_BASE_URL"
    )
    reconcile_interval: PositiveFloat | None = Field(None, alias="LAPOR_RECONCILE_INTERVAL")
    job_stuck_after: PositiveFloat | None = Field(None, alias="LAPOR_JOB_STUCK_AFTER")
    sms_concat_timeout: PositiveFloat | None = Field(None, alias="LAPOR_SMS_CONCAT_TIMEOUT")
    proxy_count: NonNegativeInt | None = Field(None, alias="LAPOR_PROXY_COUNT")
    sender_rate_per_minute: PositiveInt | None = Field(None, alias="LAPOR_SENDER_RATE_PER_MINUTE")
    max_body_bytes: PositiveInt | None = Field(None, alias="LAPOR_MAX_BODY_BYTES")
    retention_months: NonNegativeInt | None = Field(None, alias="LAPOR_RETENTION_MONTHS")
    media_url_ttl: PositiveInt | None = Field(None, alias="LAPOR_MEDIA_URL_TTL")
    send_threads: Annotated[int, Interval(ge=1, le=64)] | None = Field(None, alias="LAPOR_SEND_THREADS")
    send_max_attempts: PositiveInt | None = Field(None, alias="LAPOR_SEND_MAX_ATTEMPTS")
    sms_profile: Literal["vonage", "infobip"] | None = Field(None, alias="SMS_PROFILE")
    sms_signature_method: Literal["md5hash", "md5", "sha1", "sha256", "sha512"] | None = Field(
        None, alias="SMS_SIGNATURE_METHOD"
    )
    sms_max_segments: PositiveInt | None = Field(None, alias="SMS_MAX_SEGMENTS")
    sms_signature_max_age: NonNegativeFloat | None = Field(None, alias="SMS_SIGNATURE_MAX_AGE")
    sms_timeout: PositiveFloat | None = Field(None, alias="SMS_TIMEOUT")
    twilio_timeout: PositiveFloat | None = Field(None, alias="TWILIO_TIMEOUT")
    whatsapp_timeout: PositiveFloat | None = Field(None, alias="WHATSAPP_TIMEOUT")
    telegram_timeout: PositiveFloat | None = Field(None, alias="TELEGRAM_TIMEOUT")
    db_pool_size: Annotated[int, Interval(ge=1, le=256)] | None = Field(None, alias="LAPOR_DB_POOL_SIZE")
    db_max_overflow: Annotated[int, Interval(ge=0, le=256)] | None = Field(
        None, alias="LAPOR_DB_MAX_OVERFLOW"
    )
    # A count, or "off" (never prepare): one pattern, so a slip is one error line, not one per type.
    db_prepare_threshold: Annotated[str, StringConstraints(pattern=r"^(off|[0-9]+)$")] | None = Field(
        None, alias="LAPOR_DB_PREPARE_THRESHOLD"
    )
    telegram_bot_username: Annotated[str, StringConstraints(pattern=r"^@?[A-Za-z0-9_]{5,32}$")] | None = (
        Field(None, alias="TELEGRAM_BOT_USERNAME")
    )
    twilio_whatsapp_from: Annotated[str, StringConstraints(pattern=r"^whatsapp:\+[0-9]+$")] | None = Field(
        None, alias="TWILIO_WHATSAPP_FROM"
    )


def parse_environment(env: Mapping[str, str]) -> Environment:
    """``env`` through `Environment`; ConfigError with one line per bad variable."""
    present = {k: v.strip() for k, v in env.items() if isinstance(v, str) and v.strip()}
    try:
        return Environment.model_validate(present)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0])
            reason = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "literal_error":
                reason = f"must be one of {error.get('ctx', {}).get('expected', '')}"
            problems.append(Problem(ENVIRONMENT, f"{present.get(name)!r}: {reason}", key=name))
        raise ConfigError(problems) from None


#: Channels and the variables each needs all of (ARCHITECTURE.md): some but not all set is an error.
CHANNEL_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "sms": ("SMS_SIGNATURE_SECRET", "SMS_API_KEY"),
    "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
    "telegram": ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"),
    "whatsapp": (
        "WHATSAPP_ACCESS_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
    ),
}


def channel_problems(env: Mapping[str, str]) -> Iterator[Problem]:
    """A channel with half its credentials is an error; a channel left off is a warning."""
    for channel, names in CHANNEL_CREDENTIALS.items():
        present = [n for n in names if (env.get(n) or "").strip()]
        if not present:
            yield Problem(
                ENVIRONMENT, f"channel {channel} is off ({', '.join(names)} unset)", severity=WARNING
            )
        elif len(present) < len(names):
            missing = [n for n in names if n not in present]
            yield Problem(
                ENVIRONMENT,
                f"is set but {', '.join(missing)} is not: channel {channel} needs all of {', '.join(names)}",
                key=present[0],
            )
    if (env.get("TWILIO_ACCOUNT_SID") or "").strip() and not any(
        (env.get(n) or "").strip() for n in ("TWILIO_SMS_FROM", "TWILIO_WHATSAPP_FROM")
    ):
        yield Problem(
            ENVIRONMENT,
            "is set but neither TWILIO_SMS_FROM nor TWILIO_WHATSAPP_FROM: Twilio cannot reply",
            key="TWILIO_ACCOUNT_SID",
        )


def environment_problems(env: Mapping[str, str]) -> list[Problem]:
    """Every problem in the environment: malformed values, half-configured channels."""
    problems: list[Problem] = []
    try:
        parse_environment(env)
    except ConfigError as exc:
        problems.extend(exc.problems)
    problems.extend(channel_problems(env))
    return problems


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``env`` (default: the process environment).

    ConfigError (one line per variable) when a variable read here is malformed, e.g.
    ``LAPOR_PROXY_COUNT=one``: the same check `lapor-gateway config check` runs.
    """
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("LAPOR_DATA_DIR") or "./instance").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # `lapor-gateway run` writes the settings of its stand-in channels here, so
    # that `simulate` and the worker see the same ones; real variables win.
    env = read_env_file(data_dir / CHANNELS_ENV) | env
    parsed = parse_environment(env)
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
        "public_base_url": (parsed.public_base_url or "http://localhost:5000").rstrip("/"),
        "config_dir": env.get("LAPOR_CONFIG_DIR") or None,
        "env": env,
    }
    for attr in (
        "reconcile_interval",
        "job_stuck_after",
        "sms_concat_timeout",
        "proxy_count",
        "sender_rate_per_minute",
        "max_body_bytes",
        "retention_months",
        "media_url_ttl",
        "db_pool_size",
        "db_max_overflow",
    ):
        value = getattr(parsed, attr)
        if value is not None:
            values[attr] = value
    if parsed.db_prepare_threshold is not None:
        threshold = parsed.db_prepare_threshold
        values["db_prepare_threshold"] = None if threshold == "off" else int(threshold)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
