"""Running Alembic migrations from code (`lapor-gateway db upgrade`, `run`, tests), and
telling whether a database is at head (`db current`, `/readyz`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from gateway.store.db import Database, StorageUnavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    """The migration scripts, read once per process (readyz asks on every probe)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revisions() -> frozenset[str]:
    return frozenset(_scripts().get_heads())


def current_revisions(db: Database) -> frozenset[str]:
    """The revisions the database is at (empty when never migrated); StorageUnavailable when down."""
    try:
        with db.engine.connect() as connection:
            return frozenset(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:  # any driver error: the database cannot be asked
        raise StorageUnavailable(str(exc)) from exc


def pending_revisions(db: Database) -> list[str]:
    """Migrations not yet applied, oldest first, as ``id: message``."""
    current = current_revisions(db)
    if current == head_revisions():
        return []
    scripts = _scripts()
    lower = tuple(current) if current else None
    pending = list(scripts.iterate_revisions("heads", lower or "base"))
    pending = [s for s in pending if s.revision not in current]
    return [f"{s.revision}: {s.doc}" for s in reversed(pending)]


def upgrade(db: Database, revision: str = "head") -> list[str]:
    """Bring the database schema up to ``revision``; safe to run on every start.

    Returns what was applied (``id: message``, oldest first): empty when already there.
    """
    applied = pending_revisions(db) if revision == "head" else []
    cfg = alembic_config(db.url)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
    return applied


def revision(db: Database, message: str) -> None:
    """Autogenerate a new migration from the models (developers only)."""
    cfg = alembic_config(db.url)
    command.revision(cfg, message=message, autogenerate=True)
