"""The web process's SQLite writers go before the workers' (gateway.store.db.SqliteWriteLock).

A preferred writer (the web process) announces itself with a shared flock on the
``-writeintent`` side file while it waits and writes; other writers wait until nobody holds
it before they queue for the write lock. Separate lock objects open the side files
separately, as separate processes do.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from gateway.store.db import SqliteWriteLock


def _in_thread(lock: SqliteWriteLock, got: threading.Event, hold: float = 0.0) -> threading.Thread:
    def run() -> None:
        lock.acquire()
        try:
            got.set()
            time.sleep(hold)
        finally:
            lock.release()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _intent_taken(db: str) -> bool:
    fd = os.open(f"{db}-writeintent", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken above
    return False


def test_a_worker_does_not_start_while_a_web_writer_waits(tmp_path: Path) -> None:
    db = str(tmp_path / "gateway.store.db")
    # A web process waiting for the write lock holds the intent file shared.
    web_waiting = os.open(f"{db}-writeintent", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(web_waiting, fcntl.LOCK_SH)
    got = threading.Event()
    try:
        worker = _in_thread(SqliteWriteLock(db), got)
        assert not got.wait(0.3)  # the write lock is free, yet the worker waits its turn
    finally:
        fcntl.flock(web_waiting, fcntl.LOCK_UN)
        os.close(web_waiting)
    assert got.wait(5)
    worker.join(5)


def test_a_web_writer_announces_itself_only_while_it_holds_or_waits(tmp_path: Path) -> None:
    db = str(tmp_path / "gateway.store.db")
    web = SqliteWriteLock(db)
    web.preferred = True
    assert not _intent_taken(db)
    web.acquire()
    web.acquire()  # a nested session in the same thread
    assert _intent_taken(db)
    web.release()
    assert _intent_taken(db)
    web.release()
    assert not _intent_taken(db)


def test_web_writers_do_not_wait_for_each_other_to_announce(tmp_path: Path) -> None:
    db = str(tmp_path / "gateway.store.db")
    first, second = SqliteWriteLock(db), SqliteWriteLock(db)
    first.preferred = second.preferred = True
    first.acquire()
    got = threading.Event()
    try:
        thread = _in_thread(second, got)
        time.sleep(0.1)
        assert not got.is_set()  # one writer at a time still
    finally:
        first.release()
    assert got.wait(5)
    thread.join(5)
    assert not _intent_taken(db)


def test_workers_queue_one_after_the_other_without_web_writers(tmp_path: Path) -> None:
    db = str(tmp_path / "gateway.store.db")
    a, b = SqliteWriteLock(db), SqliteWriteLock(db)
    a.acquire()
    got = threading.Event()
    try:
        thread = _in_thread(b, got)
        assert not got.wait(0.2)
    finally:
        a.release()
    assert got.wait(5)
    thread.join(5)
