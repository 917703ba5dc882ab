"""`lapor-gateway run`: the whole gateway on one machine with nothing installed but Python.

* Redis: REDIS_URL, or an embedded real redis-server under LAPOR_DATA_DIR/redis.
* Database: DATABASE_URL, or SQLite under LAPOR_DATA_DIR; migrated on start.
* Channels: each channel without credentials is pointed at a built-in loopback
  stand-in of its provider (demo mode), so `lapor-gateway simulate` shows the
  reply a citizen would get. Real credentials always win. The stand-ins post
  signed delivery receipts back to this app's webhooks (SMS and Twilio: delivered;
  WhatsApp: delivered, then read), so replies in the inbox move on from "sent" as
  they would in production. Telegram's Bot API has no delivery receipts.
* Processes: the web app in this process, one worker as a child process.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from werkzeug.serving import make_server

from config.settings import CHANNELS_ENV
from gateway.devtools.demo import prepare_database

# Seconds before each demo receipt: sent, then delivered; a WhatsApp reply is read a while later.
RECEIPT_DELAY = 0.5
READ_DELAY = 1.5


def _local_url(host: str, port: int) -> str:
    """Where this machine reaches the web server (a wildcard bind is reached on loopback)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (reading the bind address, not binding)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _start_stand_ins(env: dict[str, str], app_url: str) -> tuple[list[Any], dict[str, str]]:
    """Loopback providers for every channel the deployer has not configured.

    SMS and Twilio post their receipts to the URL each send names (built from
    PUBLIC_BASE_URL, which Twilio's signature covers); Meta's stand-in to the
    WhatsApp webhook at ``app_url``, this app's own address.
    """
    from gateway.devtools.loopback.meta import MetaStandIn
    from gateway.devtools.loopback.sms import SmsStandIn
    from gateway.devtools.loopback.telegram import TelegramStandIn
    from gateway.devtools.loopback.twilio import TwilioStandIn

    started: list[Any] = []
    values: dict[str, str] = {}
    if not env.get("SMS_SIGNATURE_SECRET"):
        key, secret = "demo-" + secrets.token_hex(4), secrets.token_hex(12)
        signature_secret = secrets.token_hex(16)
        sms = SmsStandIn(
            api_key=key,
            api_secret=secret,
            delivery_receipts=True,
            signature_secret=signature_secret,
            receipt_delay=RECEIPT_DELAY,
        ).start()
        started.append(sms)
        values.update(
            SMS_SIGNATURE_SECRET=signature_secret,
            SMS_API_BASE_URL=sms.base_url,
            SMS_API_KEY=key,
            SMS_API_SECRET=secret,
            SMS_PROFILE="vonage",
        )
    if not env.get("TWILIO_ACCOUNT_SID"):
        sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        twilio = TwilioStandIn(
            account_sid=sid, auth_token=token, status_callbacks=True, receipt_delay=RECEIPT_DELAY
        ).start()
        started.append(twilio)
        values.update(
            TWILIO_ACCOUNT_SID=sid,
            TWILIO_AUTH_TOKEN=token,
            TWILIO_API_BASE_URL=twilio.base_url,
            TWILIO_SMS_FROM="+15005550006",
            TWILIO_WHATSAPP_FROM="whatsapp:+14155238886",
        )
    if not env.get("WHATSAPP_ACCESS_TOKEN"):
        token, phone_id = (
            "demo" + secrets.token_hex(16),
            "1" + "".join(secrets.choice("0123456789") for _ in range(14)),
        )
        app_secret = secrets.token_hex(16)
        meta = MetaStandIn(
            access_token=token,
            phone_number_id=phone_id,
            webhook_url=app_url + "/webhooks/whatsapp",
            app_secret=app_secret,
            receipt_delay=RECEIPT_DELAY,
            read_delay=READ_DELAY,
        ).start()
        started.append(meta)
        values.update(
            WHATSAPP_ACCESS_TOKEN=token,
            WHATSAPP_PHONE_NUMBER_ID=phone_id,
            WHATSAPP_APP_SECRET=app_secret,
            WHATSAPP_VERIFY_TOKEN=secrets.token_hex(8),
            WHATSAPP_API_BASE_URL=meta.api_base_url,
        )
    if not env.get("TELEGRAM_BOT_TOKEN"):
        token = f"{secrets.randbelow(10**9)}:{secrets.token_urlsafe(26)}"
        tg = TelegramStandIn(token=token).start()
        started.append(tg)
        values.update(
            TELEGRAM_BOT_TOKEN=token,
            TELEGRAM_WEBHOOK_SECRET=secrets.token_hex(16),
            TELEGRAM_API_BASE_URL=tg.base_url,
        )
    return started, values


def run_all(host: str = "127.0.0.1", port: int = 5000, demo: bool = True) -> None:
    from gateway.devtools.embedded_redis import EmbeddedRedis

    env = dict(os.environ)
    data_dir = Path(env.get("LAPOR_DATA_DIR") or "./instance").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / CHANNELS_ENV).unlink(missing_ok=True)
    env["LAPOR_DATA_DIR"] = str(data_dir)
    from gateway.ops.startup import refuse_on_problems

    # The same check as `web` and `worker`, before anything starts (the key is made below).
    refuse_on_problems("run", env, need_secret=False)
    # One machine by definition: a key generated once into the data dir is fine here (and only
    # here; `web` and `worker` refuse to start without SECRET_KEY). The worker gets it too.
    from config.settings import ensure_secret_key

    env.setdefault("SECRET_KEY", ensure_secret_key(data_dir))
    env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{port}")

    redis = None
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(data_dir / "redis").start()
        env["REDIS_URL"] = redis.url
    stand_ins: list[Any] = []
    # `simulate`, run from another shell, reads this file: it must sign for the URL this server
    # checks signatures against (Twilio's covers it), also when `--port` is not 5000.
    shared = {"PUBLIC_BASE_URL": env["PUBLIC_BASE_URL"]}
    if demo:
        stand_ins, channel_values = _start_stand_ins(env, _local_url(host, port))
        shared |= channel_values
        env.update(channel_values)
    _write_channels_env(data_dir, shared)
    os.environ.update(env)

    prepare_database(seed_demo=demo)
    worker = _spawn([sys.executable, "-m", "gateway.cli", "worker"], env)

    from gateway.app import create_app

    app = create_app()
    app.extensions["lapor"].db.prefer_writes()  # webhooks' writes before the worker's jobs
    server = make_server(host, port, app, threaded=True)

    def _terminate(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # stop children and stand-ins on SIGTERM as on Ctrl-C

    signal.signal(signal.SIGTERM, _terminate)

    def _reload(_signum: int, _frame: object) -> None:
        # SIGHUP reloads the config on both floors: this web server's snapshot and the worker's.
        app.extensions["lapor"].request_config_reload()
        if worker.poll() is None:
            worker.send_signal(signal.SIGHUP)

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _reload)
    _banner(env, port, data_dir, demo)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("\nstopping...")
    finally:
        server.server_close()
        _stop_process(worker)
        for stand_in in stand_ins:
            stand_in.stop()
        if redis is not None:
            redis.stop()


def _banner(env: dict[str, str], port: int, data_dir: Path, demo: bool) -> None:
    base = f"http://localhost:{port}"
    lines = [
        "",
        "lapor-gateway is running",
        f"  public statistics   {base}/statistik",
        f"  operator inbox      {base}/inbox/",
        f"  API                 {base}/api/v1/openapi.json",
        f"  health              {base}/readyz",
        f"  data                {data_dir}",
    ]
    creds = data_dir / "demo-credentials.txt"
    if demo and creds.exists():
        lines.append(f"  demo logins         {creds}")
    if demo:
        lines += [
            "",
            "Try it as a citizen (in another terminal):",
            '  lapor-gateway simulate sms --from 081234567890 "Jalan berlubang di depan SDN 3 Sukamaju"',
            '  lapor-gateway simulate whatsapp --from +6281234567890 "Sampah menumpuk di pasar"',
            '  lapor-gateway simulate telegram --from 123456 "Lampu jalan mati"',
        ]
    click.echo("\n".join(lines) + "\n")


def _write_channels_env(data_dir: Path, values: dict[str, str]) -> None:
    """Record stand-in channel settings for the worker and `simulate` to read."""
    path = data_dir / CHANNELS_ENV
    lines = ["# written by `lapor-gateway run` for its stand-in channels; safe to delete"]
    lines += [f"{k}={v}" for k, v in sorted(values.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[Any]:
    return subprocess.Popen(args, env=env, start_new_session=True)


def _stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
