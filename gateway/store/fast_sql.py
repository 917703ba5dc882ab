"""The webhook ack's SQL below SQLAlchemy's execution layer: the one module that does this.

Everything else in the gateway runs SQL through SQLAlchemy (Core or ORM) and its compiled
cache. The ack is the exception because it is the path a provider waits on, and on SQLite it
runs while holding the database's only write lock: what it spends there, every other writer
waits for. Per message it runs a duplicate check and four to seven small statements (the
sender's lookup, contact and address or their update, the message, its job).

Why below SQLAlchemy (2026-12-02, process CPU on a shared 2-core machine; details in
docs/performance.md, "SQL through SQLAlchemy"):

* the statements (`PreparedStatements`): storing one message of a new sender took 1.75 ms
  of CPU this way against 2.49 ms with ``Connection.execute`` of the same prebuilt Core
  statements on SQLite (4.96 against 6.09 ms on PostgreSQL), about a fifth of the whole
  ack's CPU. SQLAlchemy's per-call machinery (execution context, parameter and result
  objects) costs several times these small statements;
* the duplicate check (`read_rows`): 0.02 ms against 0.17 ms through a read-only
  ``Connection`` and 0.71 ms through a read-only Session, on every webhook, retries
  included; about a tenth of the ack's CPU on a quiet machine.

What is kept from SQLAlchemy: it writes the SQL (compiled once per statement, dialect and
set of keys), converts every value with the column types' own bind processors (JSON,
timestamps, booleans), fills the columns a caller left out from their Python-side defaults,
and driver errors are raised as SQLAlchemy's `DBAPIError` (a disconnect invalidates the
connection), so callers and the webhook's 503 handling see what any statement would raise.

What it relies on, to check when upgrading SQLAlchemy (the tests in
tests/gateway/test_ack_fast_paths.py compare the rows stored here with the rows the ORM
stores, column by column, on SQLite and PostgreSQL, and fail if an upgrade breaks any of this):

* `Compiled.string`, ``positional``, ``positiontup``, ``bind_names``, ``insert_prefetch``
  and ``update_prefetch`` (the compiled statement's parameters and defaults);
* ``TypeEngine.dialect_impl(dialect).bind_processor(dialect)``;
* ``Dialect.loaded_dbapi``, ``Dialect.is_disconnect`` and ``DBAPIError.instance``;
* ``Connection.connection`` (the pooled DBAPI connection) and ``Engine.raw_connection``.

For this reason pyproject.toml keeps SQLAlchemy below its next minor version: raising that
bound is the moment to run those tests on both databases.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError

_UNSET: Any = object()


class _Prepared:
    """One statement compiled once by SQLAlchemy for one dialect and one set of keys, run on
    the DBAPI cursor of the caller's connection, inside its transaction."""

    def __init__(self, statement: Any, dialect: Dialect, keys: frozenset[str]) -> None:
        compiled: Any = statement.compile(dialect=dialect, column_keys=sorted(keys))
        self.sql: str = compiled.string
        self.positional: bool = compiled.positional
        self.dialect = dialect
        defaults = {c.key: c.default for c in (*compiled.insert_prefetch, *compiled.update_prefetch)}
        slots: dict[str, tuple[str, Any, Any]] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.key in keys:
                fallback = _UNSET
            elif bind.key in defaults:
                fallback = defaults[bind.key]
                if fallback is None or not (fallback.is_scalar or fallback.is_callable):
                    raise ValueError(f"column default of {bind.key!r} needs SQLAlchemy's execution")
            elif not bind.required and bind.callable is None:
                fallback = bind.value  # a constant of the statement itself
            else:
                raise ValueError(f"{bind.key!r} has no value")
            slots[name] = (bind.key, processor, fallback)
        names = compiled.positiontup if self.positional else list(slots)
        self.slots = [(name, *slots[name]) for name in names or ()]

    def execute(self, conn: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """Run with ``params`` (by bind key); the first row it returns, if any."""
        values = []
        for _name, key, processor, fallback in self.slots:
            if fallback is _UNSET:
                value = params[key]
            elif hasattr(fallback, "is_callable"):  # a column default
                value = fallback.arg(None) if fallback.is_callable else fallback.arg
            else:
                value = fallback
            values.append(processor(value) if processor is not None else value)
        args: Any = values if self.positional else {s[0]: v for s, v in zip(self.slots, values, strict=True)}
        dbapi_error = self.dialect.loaded_dbapi.Error
        cursor = conn.connection.cursor()
        try:
            cursor.execute(self.sql, args)
            return tuple(row) if cursor.description is not None and (row := cursor.fetchone()) else None
        except dbapi_error as exc:
            if self.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor):
                conn.invalidate(exc)
            raise DBAPIError.instance(self.sql, args, exc, dbapi_error, dialect=self.dialect) from exc
        finally:
            cursor.close()


class PreparedStatements:
    """A set of named Core statements, built once per dialect by ``build`` and each compiled
    once per set of parameter keys; `run` executes one on a connection's DBAPI cursor."""

    def __init__(self, build: Callable[[str], dict[str, Any]]) -> None:
        self._build = build
        self._statements: dict[str, dict[str, Any]] = {}
        self._prepared: dict[tuple[str, str, frozenset[str]], _Prepared] = {}

    def run(self, conn: Connection, name: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """Run statement ``name`` with ``params`` on ``conn``; its first row, if any."""
        dialect = conn.dialect
        key = (dialect.name, name, frozenset(params))
        prepared = self._prepared.get(key)
        if prepared is None:
            statements = self._statements.get(dialect.name)
            if statements is None:
                statements = self._statements[dialect.name] = self._build(dialect.name)
            prepared = self._prepared[key] = _Prepared(statements[name], dialect, key[2])
        return prepared.execute(conn, params)


def read_rows(engine: Engine, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Rows of one read (``statement`` in the driver's paramstyle) on a pooled DBAPI connection.

    No Session and no transaction: the SELECT is its own read transaction. On SQLite the
    pooled connection is in autocommit already (see `gateway.store.db`), so it takes no write lock;
    on PostgreSQL the connection is put in autocommit for the read, which saves the BEGIN and
    the pool's ROLLBACK on return: two of the ack's round trips, and the ROLLBACK also made
    psycopg drop the connection's prepared statements (``DEALLOCATE ALL``; docs/performance.md,
    "PostgreSQL ack"). A failure is raised as `sqlalchemy.exc.DBAPIError` (OperationalError
    when the database is unreachable) like any other statement, so the webhook answers 503.
    """
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        raw = engine.raw_connection()
    except dbapi_error as exc:
        raise DBAPIError.instance(statement, params, exc, dbapi_error, dialect=engine.dialect) from exc
    cursor = None
    # sqlite3 is left alone: its isolation_level=None already is autocommit, and its own
    # ``autocommit`` attribute (Python 3.12) means something else.
    driver: Any = raw.driver_connection
    autocommit = engine.dialect.name != "sqlite" and driver is not None and not driver.autocommit
    try:
        if autocommit:
            driver.autocommit = True
        cursor = raw.cursor()
        cursor.execute(statement, params)
        return list(cursor.fetchall())
    except dbapi_error as exc:
        if engine.dialect.is_disconnect(exc, raw.dbapi_connection, cursor):
            raw.invalidate(exc)
        raise DBAPIError.instance(statement, params, exc, dbapi_error, dialect=engine.dialect) from exc
    finally:
        if cursor is not None:
            with contextlib.suppress(dbapi_error):  # an invalidated connection's cursor
                cursor.close()
        if autocommit and driver is not None and not getattr(driver, "closed", False):
            with contextlib.suppress(dbapi_error):
                driver.autocommit = False
        raw.close()
