"""Fixtures for the fault-injection suite: a Redis of our own (so it can be killed), real worker
processes started as `python -m gateway.cli worker`, and an in-process web app on the same settings.

The reconciler runs every second and presumes a job abandoned after two seconds here, so a
recovery the production settings make within two minutes happens within a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from config.settings import Settings
from gateway.devtools.embedded_redis import EmbeddedRedis
from gateway.store.models import Message

ROOT = Path(__file__).resolve().parents[2]

FAULT_ENV = {
    "LAPOR_RECONCILE_INTERVAL": "1",
    "LAPOR_JOB_STUCK_AFTER": "2",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    """A redis-server for this test alone: tests stop and restart it."""
    server = EmbeddedRedis(None, persist=False).start()
    yield server
    server.stop()


@pytest.fixture
def fault_settings(settings: Settings, own_redis: EmbeddedRedis) -> Settings:
    env = dict(settings.env) | FAULT_ENV | {"REDIS_URL": own_redis.url}
    return replace(settings, redis_url=own_redis.url, env=env, reconcile_interval=1.0, job_stuck_after=2.0)


@pytest.fixture
def fault_runtime(fault_settings: Settings) -> Iterator[Any]:
    from gateway.devtools.demo import sync_agencies
    from gateway.runtime import Runtime

    runtime = Runtime(fault_settings)
    sync_agencies(runtime)
    yield runtime
    runtime.close()


@pytest.fixture
def fault_client(fault_runtime: Any) -> Any:
    from gateway.app import create_app

    return create_app(runtime=fault_runtime).test_client()


class WorkerProcess:
    """One real `lapor-gateway worker` process with the test's settings."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker"],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as when the machine loses power or the OOM killer strikes."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait for the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def worker_env(fault_settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update(fault_settings.env)
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def start_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        worker = WorkerProcess(worker_env, tmp_path / f"worker-{len(started)}.log").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds; False on timeout (the caller asserts with a message)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def count_messages(runtime: Any, *where: Any) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count(Message.id)).where(*where)) or 0)


def post_sms(client: Any, adapter: Any, sender: str, text: str, message_id: str) -> Any:
    req = adapter.simulate(sender, text, message_id=message_id)
    return client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)


def sends_to(provider: Any, number: str) -> int:
    """How many send calls the SMS stand-in received for ``number`` (digits, no plus)."""
    return sum(1 for r in provider.requests if r.path == "/sms/json" and r.form().get("to") == number)
