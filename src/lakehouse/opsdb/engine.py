"""Opening the operational DB: SQLite (WAL, foreign keys on) or PostgreSQL, migrated to the latest revision."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from lakehouse.errors import StoreUnavailable

_MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url``; a SQLite file's directory is created and the pragmas set on every connection."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return sa.create_engine(parsed, pool_pre_ping=True)


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


_PG_MIGRATION_LOCK = 0x1A4E_0001  # pg_advisory_xact_lock key: one migrator at a time per database


@contextlib.contextmanager
def _sqlite_migration_lock(engine: sa.Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with Path(database + ".migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Run migrations up to ``revision`` (on start, and by ``lakehouse db upgrade``).

    Processes starting together against one database take turns: PostgreSQL by an advisory lock held for the
    migration's transaction, SQLite by a lock file beside the database. The second finds the work done.
    """
    cfg = _alembic_config()
    try:
        with _sqlite_migration_lock(engine), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(f"operational DB unreachable: {exc.orig}", field="opsdb") from exc


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(f"operational DB unreachable: {exc.orig}", field="opsdb") from exc


def head_revision() -> str | None:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


@contextlib.contextmanager
def write_transaction(engine: sa.Engine, lock_key: str) -> Iterator[sa.Connection]:
    """A transaction that holds the writer's turn for ``lock_key`` from its first statement, so that what it reads
    is still true when it writes: on PostgreSQL an advisory lock on the key's hash (held until commit), on SQLite
    ``BEGIN IMMEDIATE`` (SQLite has one writer at a time; waits up to the busy timeout). Commits on leaving the
    block, rolls back on an exception."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": lock_key})
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def vacuum_sqlite(engine: sa.Engine) -> None:
    """Rewrite a SQLite database without its free pages (deleted rows leave their bytes there until overwritten);
    nothing on PostgreSQL, whose own VACUUM reclaims dead rows."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")


@contextlib.contextmanager
def read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read-only transaction whose statements all see one state of the database: on SQLite a deferred ``BEGIN``
    (the snapshot is taken at the first read), on PostgreSQL ``REPEATABLE READ``. Rolled back on leaving."""
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN")
            else:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            try:
                yield conn
            finally:
                conn.rollback()
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(f"operational DB unreachable: {exc.orig}", field="opsdb") from exc


def insert_ignoring_duplicates(engine: sa.Engine, table: sa.Table) -> Any:
    """An INSERT into ``table`` that skips rows whose key is already there (``ON CONFLICT DO NOTHING``, in the
    engine's dialect)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()
