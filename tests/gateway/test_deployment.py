"""Setting up a real deployment: readiness that tells the truth, and the CLI a city's IT office runs.

`web` is started as the real command (gunicorn from this Python) on an unmigrated
database; the rest drives the CLI against a fresh SQLite database, as on day one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from config.settings import CHANNEL_CREDENTIALS, load_settings
from gateway.cli import gunicorn_args, main

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_VARS = {name for names in CHANNEL_CREDENTIALS.values() for name in names}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fresh_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A new deployment: its own SQLite file, a secret key, no channels."""
    env = {k: v for k, v in os.environ.items() if k not in CHANNEL_VARS and not k.startswith("LAPOR_")}
    env.pop("DATABASE_URL", None)
    env |= {
        "LAPOR_DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "deployment-test-key",
        "PUBLIC_BASE_URL": "http://localhost:5000",
        **extra,
    }
    return env


def _cli(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(main, list(args), env=env)
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result


def test_web_on_an_unmigrated_database_is_not_ready_until_db_upgrade(tmp_path: Path, redis_url: str) -> None:
    """The real `lapor-gateway web`: /readyz 503 before `db upgrade`, 200 after."""
    port = _free_port()
    env = _fresh_env(tmp_path, REDIS_URL=redis_url, WEB_CONCURRENCY="1")
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while True:
                try:
                    response = requests.get(base + "/readyz", timeout=10)
                    break
                except requests.RequestException:
                    assert time.time() < deadline and proc.poll() is None, log.read_text()
                    time.sleep(0.2)
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["status"] == "unavailable" and body["failing"] == ["database"]
            assert body["checks"]["database"].startswith("not migrated: at empty, head is ")
            assert requests.get(base + "/healthz", timeout=10).status_code == 200

            upgraded = _cli(env, "db", "upgrade")
            assert upgraded.exit_code == 0, upgraded.output
            response = requests.get(base + "/readyz", timeout=10)
            assert response.status_code == 200, response.text
            assert response.json()["checks"] == {"database": "ok", "redis": "ok"}
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def test_redis_down_is_degraded_not_unready(tmp_path: Path) -> None:
    """Webhooks still store and acknowledge without Redis: ready, and the body and /metrics say degraded."""
    from gateway.app import create_app
    from gateway.runtime import Runtime

    env = _fresh_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    assert _cli(env, "db", "upgrade").exit_code == 0
    runtime = Runtime(load_settings(env, testing=True))
    try:
        client = create_app(runtime=runtime).test_client()
        response = client.get("/readyz")
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["status"] == "degraded" and body["failing"] == ["redis"]
        assert body["checks"]["database"] == "ok" and body["checks"]["redis"].startswith("degraded: ")
        assert 'lapor_dependency_up{dependency="redis"} 0.0' in client.get("/metrics").get_data(as_text=True)
    finally:
        runtime.close()


def _shipped_agency_count() -> int:
    from gateway.tickets.catalog import Catalog

    return len(Catalog.load({}).agencies)


def test_db_upgrade_says_what_it_applied_and_seeds_the_agencies(tmp_path: Path) -> None:
    env = _fresh_env(tmp_path)
    before = _cli(env, "db", "current")
    assert (
        before.exit_code == 1
        and "(empty: never migrated)" in before.output
        and "pending 0001" in before.output
    )
    first = _cli(env, "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert "applied 0001: initial schema" in first.output
    shipped = _shipped_agency_count()
    assert f"agencies: {shipped} configured; {shipped} added (diskominfo, " in first.output
    again = _cli(env, "db", "upgrade")
    assert "database is at head (0 migration(s) applied)" in again.output
    assert "0 added, 0 updated, 0 deactivated" in again.output
    after = _cli(env, "db", "current")
    assert after.exit_code == 0 and "pending" not in after.output
    # An agency operator can be created on day one, before any ticket was filed.
    created = _cli(
        env,
        "operator",
        "create",
        "--email",
        "pu@kota.go.id",
        "--role",
        "agency",
        "--agency",
        "dpupr",
        "--password",
        "panjang-sekali-rahasia",
    )
    assert created.exit_code == 0, created.output


def test_agencies_sync_follows_an_edited_config(tmp_path: Path) -> None:
    from gateway.tickets.catalog import Catalog
    from tests.catalogue import CATALOGUE, deploy_folder

    # Seeded from the tests' catalogue, then synced with an edited copy of it.
    env = {**_fresh_env(tmp_path), "LAPOR_CONFIG_DIR": str(CATALOGUE)}
    assert _cli(env, "db", "upgrade").exit_code == 0
    folder = deploy_folder(tmp_path)
    text = (folder / "agencies.yaml").read_text(encoding="utf-8")
    edited = text.replace("  - code: dinsos\n    name: Dinas Sosial\n    categories: [bansos]\n", "")
    edited = edited.replace("name: Dinas Kesehatan", "name: Dinas Kesehatan Kota")
    (folder / "agencies.yaml").write_text(edited, encoding="utf-8")
    synced = _cli({**env, "LAPOR_CONFIG_DIR": str(folder)}, "agencies", "sync")
    assert synced.exit_code == 0, synced.output
    left = len(Catalog.load({"LAPOR_CONFIG_DIR": str(CATALOGUE)}).agencies) - 1
    expected = f"agencies: {left} configured; 0 added, 1 updated (dinkes), 1 deactivated (dinsos)"
    assert expected in synced.output, synced.output


def test_operator_list_and_disable(tmp_path: Path) -> None:
    env = _fresh_env(tmp_path)
    assert _cli(env, "db", "upgrade").exit_code == 0
    for email in ("admin@kota.go.id", "pu@kota.go.id"):
        args = ["operator", "create", "--email", email, "--password", "panjang-sekali-rahasia"]
        if email.startswith("pu"):
            args += ["--role", "agency", "--agency", "dpupr"]
        assert _cli(env, *args).exit_code == 0
    disabled = _cli(env, "operator", "disable", "PU@kota.go.id")
    assert disabled.exit_code == 0 and "operator PU@kota.go.id disabled" in disabled.output
    listed = _cli(env, "operator", "list").output.splitlines()
    assert listed[0].split() == ["EMAIL", "NAME", "ROLE", "AGENCY", "STATE", "LAST", "LOGIN"]
    assert listed[1].split()[:5] == ["admin@kota.go.id", "admin", "admin", "-", "active"]
    assert listed[2].split()[:5] == ["pu@kota.go.id", "pu", "agency", "dpupr", "disabled"]
    assert "password" not in "\n".join(listed).lower()
    assert _cli(env, "operator", "disable", "nobody@kota.go.id").exit_code != 0


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("lapor-gateway, version ")


def test_gunicorn_comes_from_this_python_and_takes_the_usual_variables() -> None:
    args = gunicorn_args("0.0.0.0", 8000, 3, env={})
    assert args[:3] == [sys.executable, "-m", "gunicorn"] and args[-1] == "gateway.wsgi:app"
    assert args[args.index("--workers") + 1] == "3" and args[args.index("--timeout") + 1] == "30"
    # GUNICORN_CMD_ARGS wins: gunicorn reads it itself, so `web` leaves those options out.
    args = gunicorn_args("0.0.0.0", 8000, 3, env={"GUNICORN_CMD_ARGS": "--timeout=90 -w 5 --keep-alive 5"})
    assert "--timeout" not in args and "--workers" not in args and "--bind" in args
    result = CliRunner().invoke(main, ["web", "--help"], env={"WEB_CONCURRENCY": "7"})
    assert "$WEB_CONCURRENCY" in result.output


def test_a_worker_started_before_redis_waits_with_one_clear_line_then_works(tmp_path: Path) -> None:
    from redis import Redis
    from rq import Worker

    from gateway.devtools.embedded_redis import EmbeddedRedis

    port = _free_port()
    env = _fresh_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker", "--no-scheduler"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
        redis = None
        try:
            deadline = time.time() + 30
            while "is not reachable" not in log.read_text():
                assert time.time() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.2)
            assert proc.poll() is None
            text = log.read_text()
            assert f"Redis at 127.0.0.1:{port}/0 is not reachable" in text and "retrying in 1 s" in text
            assert "Traceback" not in text
            redis = EmbeddedRedis(tmp_path / "redis", port=port, persist=False).start()
            connection = Redis.from_url(redis.url)
            deadline = time.time() + 40
            while not Worker.all(connection=connection):
                assert time.time() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.3)
            assert "Traceback" not in log.read_text()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            if redis is not None:
                redis.stop()


def test_a_database_outage_is_one_line_per_interval_not_a_traceback_per_pass(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, redis_url: str
) -> None:
    """The scheduler's passes all fail while the database is down; the log says so once."""
    import logging

    from gateway.runtime import Runtime
    from gateway.work.scheduler import Scheduler

    env = _fresh_env(
        tmp_path, DATABASE_URL=f"postgresql://nobody@127.0.0.1:{_free_port()}/lapor", REDIS_URL=redis_url
    )
    runtime = Runtime(load_settings(env, testing=True))
    scheduler = Scheduler(runtime)
    scheduler.tick = 0.05
    try:
        with caplog.at_level(logging.WARNING):
            scheduler.start()
            time.sleep(1.5)
            scheduler.stop()
    finally:
        runtime.close()
    records = [r for r in caplog.records if r.name.startswith("gateway")]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].getMessage().startswith("database unavailable for 0 s (1 failed attempt(s)): ")
    assert records[0].exc_info is None


def test_run_makes_its_own_secret_key_and_its_worker_starts_with_it(tmp_path: Path) -> None:
    """`run` is one machine: it generates SECRET_KEY into the data dir and hands it to its worker."""
    env = {k: v for k, v in _fresh_env(tmp_path).items() if k not in ("SECRET_KEY", "REDIS_URL")}
    port = _free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--no-demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        try:
            deadline = time.time() + 90
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.time() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.3)
            key = (tmp_path / "data" / "secret_key").read_text().strip()
            assert len(key) == 64
            time.sleep(2)  # the worker has checked its configuration by now
            assert "not starting" not in log.read_text() and "Traceback" not in log.read_text()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
