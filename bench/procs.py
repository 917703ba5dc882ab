"""Child processes of the bench (gunicorn, rq workers) and their memory, read from /proc.

Memory is the proportional set size (PSS) when the kernel offers it, so gunicorn workers
that share pages with their master are not counted twice; RSS otherwise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import requests


def spawn(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a child in its own session, its output going to ``log_path``."""
    log: IO[Any] = log_path.open("ab")
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM this child's process group (gunicorn and its workers), SIGKILL after ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url`` answers below 500 (a server is up)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: the ppid follows the last ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def tree(pids: Iterable[int]) -> list[int]:
    """The pids and all their descendants."""
    children = _children_map()
    out: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def memory_mb(pid: int) -> float:
    """PSS (or RSS) of one process in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024.0 / 1024.0


class MemorySampler:
    """Samples the memory of named process groups once per ``interval`` in a thread."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.groups: dict[str, list[subprocess.Popen[bytes]]] = {}
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.started = time.time()

    def watch(self, name: str, procs: list[subprocess.Popen[bytes]]) -> None:
        with self._lock:
            self.groups[name] = procs
            self.samples.setdefault(name, [])

    def unwatch(self, *names: str) -> None:
        """Stop sampling these groups (their samples stay). Called before the processes are
        stopped: a sample taken while some of them exit would read as memory falling (the
        second round's soak reported -1.8 MB/min from one such last sample)."""
        with self._lock:
            for name in names:
                self.groups.pop(name, None)

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._loop, name="bench-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                now = time.time() - self.started
                for name, procs in self.groups.items():
                    alive = [p.pid for p in procs if p.poll() is None]
                    if alive:
                        total = sum(memory_mb(pid) for pid in tree(alive))
                        self.samples[name].append((round(now, 1), round(total, 2)))
