"""Engine and sessions for SQLite (default) and PostgreSQL (``DATABASE_URL``).

SQLite runs in WAL mode with foreign keys on and a busy timeout, so the web
process and the worker can write at once without "database is locked".

SQLite has one writer at a time. Left to itself, every waiting writer sits in
SQLite's busy handler, which sleeps in steps of up to 100 ms between attempts: a
lock held for 2 ms cost its waiters 10-100 ms, and under load the acks' p99 went
to seconds. So write transactions on a SQLite file also take `SqliteWriteLock`
first: threads of one process queue on a Python lock and processes on an
``flock`` of a side file, and each waiter wakes the instant the lock is free.
Read-only sessions (``session(write=False)``) begin a deferred transaction and
take no lock at all: in WAL mode readers never wait for the writer.

The web process's writers go first (`Database.prefer_writes`): a provider waits for the
webhook's answer, a job can wait a few milliseconds. A preferred writer holds a shared
``flock`` on a second side file while it queues and writes; another writer first waits
until nobody holds that one, so while a webhook waits no job starts a new transaction.
"""

from __future__ import annotations

import fcntl
import os
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import UpdateBase

_READ_ONLY = "lapor_read_only"
_RELEASE_KEY = "lapor_release_write_lock"


def insert_ignoring(dialect_name: str, table: Any, *columns: str) -> Any:
    """``INSERT ... ON CONFLICT (columns) DO NOTHING`` in the dialect's own spelling (SQLite and
    PostgreSQL share it): the way to store a row "once" without a lookup or a savepoint."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = sqlite if dialect_name == "sqlite" else postgresql
    return dialect.insert(table).on_conflict_do_nothing(index_elements=list(columns))


def rowcount(session: Session, statement: UpdateBase, params: Any = None) -> int:
    """The number of rows an UPDATE or DELETE matched (``params``: a list of parameter sets runs
    it once per set, executemany, and counts them all).

    `Session.execute` is typed to return a plain `Result`, which has no ``rowcount``; a
    DML statement's result is a `CursorResult`, which has it. The cast lives here once.
    """
    result = cast("CursorResult[Any]", session.execute(statement, params))
    return int(result.rowcount or 0)


class StorageUnavailable(Exception):
    """The database did not answer; webhooks turn this into 503 so providers retry."""


#: Connections kept open when neither LAPOR_DB_POOL_SIZE nor a thread count says otherwise.
DEFAULT_POOL_SIZE = 5


def make_engine(
    url: str,
    pool_size: int | None = None,
    max_overflow: int = 10,
    prepare_threshold: int | None = 5,
) -> Engine:
    """An engine with pooling suited to each backend.

    A server database (PostgreSQL) gets a pool of ``pool_size`` connections kept open:
    the process's thread count, so that no thread opens and closes connections under
    load (a PostgreSQL connection is a forked backend, milliseconds to start); the pool
    opens them only when that many threads want one at once. ``max_overflow`` more are
    opened for a burst and closed when returned. ``prepare_threshold`` is psycopg 3's: a
    statement text run that often on one connection is prepared (parsed and planned once
    per connection); None never prepares, for a transaction-pooling PgBouncer before 1.21.
    A pooled connection the server has closed (a restart, a failover) must not reach a
    webhook, which would answer 503: with psycopg each checkout looks at the socket first
    (`_closed_by_server`), no round trip, where SQLAlchemy's ``pool_pre_ping`` sent one per
    checkout, two per ack (docs/performance.md, "PostgreSQL ack"). SQLite ignores all three.
    """
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(
            # psycopg: the socket check below, no round trip; another driver: SQLAlchemy's ping.
            pool_pre_ping=not url.startswith("postgresql+psycopg:"),
            pool_size=pool_size or DEFAULT_POOL_SIZE,
            max_overflow=max_overflow,
            pool_recycle=1800,
        )
        kwargs["connect_args"] = {"connect_timeout": 5}
        if url.startswith("postgresql+psycopg:"):
            kwargs["connect_args"]["prepare_threshold"] = prepare_threshold
    engine = create_engine(url, **kwargs)
    if url.startswith("postgresql+psycopg:"):
        event.listen(engine, "checkout", _closed_by_server)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection whose socket has something to read while idle.

    An idle PostgreSQL connection receives nothing; when the server ends it (restart,
    ``pg_terminate_backend``, failover) it sends its goodbye and closes the socket, which
    then reads as ready. `DisconnectionError` makes the pool drop this connection and check
    out another (SQLAlchemy's documented pessimistic check); the rare asynchronous notice
    on a live connection costs only a reconnect. A server gone without a word (a cut
    network) is caught by the first statement, as it would be after a ping.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("connection closed")
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError) as exc:
        raise DisconnectionError(str(exc)) from exc
    if readable:
        raise DisconnectionError("the server closed the connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front: two writers wait for each
    # other (busy_timeout) instead of failing with "database is locked" on upgrade.
    # A read-only session begins deferred: it never needs the write lock.
    if conn.get_execution_options().get(_READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class SqliteWriteLock:
    """One writer at a time on a SQLite file, queued in Python and the kernel, not in SQLite.

    Reentrant within a thread (a nested session does not deadlock on this lock). The
    ``flock`` file is opened per process, since a descriptor inherited through fork shares
    its lock with the parent.
    """

    def __init__(self, database_path: str | None) -> None:
        self._path = f"{database_path}-writelock" if database_path else None
        self._intent_path = f"{database_path}-writeintent" if database_path else None
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._intent_fd: int | None = None
        self._pid = 0
        self._holding_intent = False
        # Set in the web process: its writers go before other processes' (see the module).
        self.preferred = False

    def _files(self) -> tuple[int, int] | None:
        if self._path is None or self._intent_path is None:
            return None
        if self._fd is None or self._intent_fd is None or self._pid != os.getpid():
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._intent_fd = os.open(self._intent_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                # The database's directory is missing or read-only: SQLite will report it
                # (as an OperationalError the webhooks turn into 503); no lock to take.
                self._fd = self._intent_fd = None
                return None
            self._pid = os.getpid()
        return self._fd, self._intent_fd

    def acquire(self) -> None:
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                files = self._files()
                if files is not None:
                    fd, intent = files
                    # flock releases the GIL while it waits.
                    if self.preferred:
                        fcntl.flock(intent, fcntl.LOCK_SH)  # "a preferred writer is waiting"
                        self._holding_intent = True
                    else:
                        fcntl.flock(intent, fcntl.LOCK_EX)  # until no preferred writer waits
                        fcntl.flock(intent, fcntl.LOCK_UN)
                    fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                self._drop_intent()
                self._thread_lock.release()
                raise
        self._depth += 1

    def _drop_intent(self) -> None:
        if self._holding_intent and self._intent_fd is not None:
            self._holding_intent = False
            fcntl.flock(self._intent_fd, fcntl.LOCK_UN)

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                self._drop_intent()
        finally:
            self._thread_lock.release()


@event.listens_for(Session, "after_commit", insert=True)
def _release_after_commit(session: Session) -> None:
    # First of the after-commit hooks: the write lock is free before the outbox pushes
    # the new jobs to Redis, which needs no lock. SQLAlchemy also calls after_commit when a
    # savepoint is released; the transaction is still open then and keeps the lock.
    if session.in_nested_transaction():
        return
    release = session.info.pop(_RELEASE_KEY, None)
    if release is not None:
        release()


class Database:
    """One engine and session factory per process."""

    def __init__(
        self,
        url: str,
        pool_size: int | None = None,
        max_overflow: int = 10,
        prepare_threshold: int | None = 5,
    ) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size, max_overflow, prepare_threshold)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False, future=True)
        self.write_lock: SqliteWriteLock | None = None
        if self.is_sqlite:
            path = self.engine.url.database
            self.write_lock = SqliteWriteLock(path if path and path != ":memory:" else None)

    def prefer_writes(self) -> None:
        """Let this process's writers go before other processes' (the web process calls this)."""
        if self.write_lock is not None:
            self.write_lock.preferred = True

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        """A session that commits on success and rolls back on error.

        ``write=False`` promises the session only reads: on SQLite it then neither takes
        the write lock nor waits for it (writing in it may fail with "database is locked").
        """
        lock = self.write_lock if write else None
        released = False

        def release() -> None:
            nonlocal released
            if lock is not None and not released:
                released = True
                lock.release()

        if lock is not None:
            lock.acquire()
        try:
            session = self.sessionmaker()
            if not write and self.is_sqlite:
                session.connection(execution_options={_READ_ONLY: True})
            session.info[_RELEASE_KEY] = release
            try:
                yield session
                session.commit()
            except Exception:
                session.rollback()
                raise
            finally:
                session.close()
        finally:
            release()

    def ping(self) -> None:
        """Raise StorageUnavailable unless a trivial query succeeds."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means "not reachable" here
            raise StorageUnavailable(str(exc)) from exc

    def dispose(self) -> None:
        self.engine.dispose()
