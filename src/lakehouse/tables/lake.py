"""The DuckLake: one in-process DuckDB with the lake attached as ``lake``, on a SQLite or PostgreSQL catalog, with
its Parquet files in a directory of the data dir or under an S3 prefix (httpfs, with a secret scoped to the prefix).

Extensions load offline (``tables.extensions``); DuckDB's autoload and autoinstall are off. Each operation takes
its own cursor (a connection to the same DuckDB instance), so threads never share one. Several processes may
attach the same catalog: DuckLake commits are optimistic and each transaction reads the newest snapshot.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from lakehouse.config import Settings
from lakehouse.errors import ConfigError, StoreUnavailable
from lakehouse.tables.extensions import load_extensions

CATALOG = "lake"


def sql_literal(value: str | Path) -> str:
    """A SQL string literal (quotes doubled): for our own paths and for values read from files."""
    return "'" + str(value).replace("'", "''") + "'"


@contextlib.contextmanager
def transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction on ``cur``: every statement inside sees one snapshot; on any error, nothing of it stays.
    (Writes go through ``Lake.write``, which takes the writers' turn first.)"""
    cur.execute("BEGIN")
    try:
        yield
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


def catalog_uri(settings: Settings, *, for_queries: bool = False) -> str:
    """The ``ducklake:`` URI of the catalog the settings name (``for_queries``: through lake.query_catalog_dsn, the
    read-only role of /v1/sql's engines, when one is set)."""
    lake = settings.lake
    if lake.catalog == "postgres":
        assert lake.catalog_dsn is not None
        dsn = lake.query_catalog_dsn if for_queries and lake.query_catalog_dsn is not None else lake.catalog_dsn
        return "ducklake:postgres:" + dsn.get_secret_value()
    return "ducklake:sqlite:" + str(settings.in_data_dir(lake.catalog_path))


def on_s3(settings: Settings) -> bool:
    return settings.lake.data_path.startswith("s3://")


def data_path(settings: Settings) -> str:
    """Where the lake's Parquet files go, with a trailing slash: a directory under the data dir (created here) or an
    ``s3://bucket/prefix/`` URL."""
    if on_s3(settings):
        return settings.lake.data_path.rstrip("/") + "/"
    path = settings.in_data_dir(settings.lake.data_path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return str(path).rstrip("/") + "/"


def s3_secret_sql(settings: Settings) -> str:
    """``CREATE SECRET`` for the lake's S3 prefix, from the storage.s3 connection settings (scoped to the prefix)."""
    s3 = settings.storage.s3
    options = [
        "TYPE s3",
        f"REGION {sql_literal(s3.region)}",
        f"SCOPE {sql_literal(data_path(settings))}",
    ]
    if s3.access_key_id is not None and s3.secret_access_key is not None:
        options += [
            f"KEY_ID {sql_literal(s3.access_key_id.get_secret_value())}",
            f"SECRET {sql_literal(s3.secret_access_key.get_secret_value())}",
        ]
    if s3.endpoint:
        endpoint = urlsplit(s3.endpoint if "://" in s3.endpoint else "https://" + s3.endpoint)
        if endpoint.scheme == "http" and not s3.allow_http:
            raise ConfigError("storage.s3.endpoint is plain http: set storage.s3.allow_http = true to use it")
        options += [
            f"ENDPOINT {sql_literal(endpoint.netloc)}",
            "URL_STYLE 'path'",
            f"USE_SSL {'false' if endpoint.scheme == 'http' else 'true'}",
        ]
    return f"CREATE SECRET lake_data ({', '.join(options)})"


def open_s3_probe(settings: Settings) -> int:
    """Reach the lake's S3 prefix without attaching the catalog: the number of Parquet files under it."""
    db = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        load_extensions(db, ["httpfs"])
        db.execute(s3_secret_sql(settings))
        row = db.execute("SELECT count(*) FROM glob(?)", [data_path(settings) + "**/*.parquet"]).fetchone()
        return int(row[0]) if row else 0
    finally:
        db.close()


def open_lake_db(
    settings: Settings,
    config: dict[str, str | bool | int | float | list[str]] | None = None,
    attach_options: str = "",
    *,
    for_queries: bool = False,
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB with the extensions the lake needs loaded and the lake attached as ``lake``.

    Raises duckdb.Error from the ATTACH (the caller maps it); the connection is closed on failure."""
    db = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False, **(config or {})},
    )
    try:
        scanner = "postgres_scanner" if settings.lake.catalog == "postgres" else "sqlite_scanner"
        load_extensions(db, ["ducklake", scanner, "json", "parquet", *(["httpfs"] if on_s3(settings) else [])])
        if on_s3(settings):
            db.execute(s3_secret_sql(settings))
        # A SQLite catalog in WAL mode with a busy timeout: readers never block the writer, and a writer waits for
        # another (process) instead of failing at once with "database is locked".
        options = ", META_JOURNAL_MODE 'WAL', META_BUSY_TIMEOUT 10000" if settings.lake.catalog == "sqlite" else ""
        # A SQLite catalog lives in the data dir beside its files: wherever the data dir is now (moved, restored
        # elsewhere, named by another relative path), its data path is the truth (files are stored relative to it).
        # A PostgreSQL catalog is shared: a data path that differs from the one it was made with stays an error.
        if settings.lake.catalog == "sqlite" and not on_s3(settings):
            options += ", OVERRIDE_DATA_PATH true"
        db.execute(
            f"ATTACH {sql_literal(catalog_uri(settings, for_queries=for_queries))} AS {CATALOG} "
            f"(DATA_PATH {sql_literal(data_path(settings))}{options}{attach_options})"
        )
    except BaseException:
        db.close()
        raise
    return db


def writer_lock_path(settings: Settings) -> Path:
    """The lock file writers of a SQLite catalog take turns on; it also holds the change token of the last write."""
    catalog = Path(settings.in_data_dir(settings.lake.catalog_path))
    return catalog.with_name(catalog.name + ".writer.lock")


_TOKEN_BYTES = 16


class LatestSnapshot:
    """The lake's newest snapshot id, read from the catalog's own table (``ducklake_snapshot``) outside any lake
    transaction, so an open read transaction can be checked against it before a query reuses it.

    SQLite: every write through a ``Lake`` (ingest, DDL, maintenance), in any process, rewrites a random change
    token in the writer lock file before it gives up its turn, so before its commit is acknowledged. The token is
    read first (one ``pread``, microseconds); only when it differs from the one seen at the last check is the
    catalog asked again, through a small DuckDB instance of its own with the catalog attached by DuckDB's sqlite
    extension (about 1.5 ms), never Python's sqlite3: two copies of the SQLite library in one process on one WAL
    database do not share their POSIX locks and shared-memory bookkeeping (the SQLite documentation lists it among
    the ways to corrupt a database), and such a reader was seen returning an old snapshot. The token is read before
    the catalog, so a write that lands between the two only makes the next call ask again. A write made without a
    ``Lake`` (DuckDB attached to the catalog directly) moves no token: reuse ends for it when the transaction ages
    out (``lake.query_reuse_ms``).

    PostgreSQL: psycopg, a client with nothing to share, about 0.2 ms, on every call (writers may be on other
    machines). Thread-safe. ``None`` when it cannot tell (the caller then opens a fresh transaction, which reports
    the error)."""

    _SQL = "SELECT max(snapshot_id) FROM ducklake_snapshot"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._conn: Any = None
        self._token_fd: int | None = None
        self._seen: tuple[bytes, int] | None = None  # (token, the snapshot the catalog gave after reading it)

    def _connect(self) -> Any:
        lake = self._settings.lake
        if lake.catalog == "postgres":
            import psycopg

            dsn = lake.query_catalog_dsn or lake.catalog_dsn  # the query engines' (read-only) role when one is set
            assert dsn is not None
            return psycopg.connect(dsn.get_secret_value(), autocommit=True, connect_timeout=10)
        db = duckdb.connect(
            ":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        try:
            load_extensions(db, ["sqlite_scanner"])
            path = self._settings.in_data_dir(lake.catalog_path)
            db.execute(f"ATTACH {sql_literal(path)} AS catalog (TYPE sqlite, READ_ONLY)")
        except BaseException:
            db.close()
            raise
        return db

    def __call__(self) -> int | None:
        if self._settings.lake.catalog == "postgres":
            return self._ask_catalog()
        try:
            with self._lock:
                if self._token_fd is None:
                    path = writer_lock_path(self._settings)  # made here if no writer has run yet
                    self._token_fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
                token = os.pread(self._token_fd, _TOKEN_BYTES, 0)
                if self._seen is not None and self._seen[0] == token:
                    return self._seen[1]
        except OSError:
            self.close()
            return None
        latest = self._ask_catalog()
        if latest is not None:
            with self._lock:
                self._seen = (token, latest)
        return latest

    def known(self) -> int | None:
        """The newest snapshot when it can be told without asking the catalog: on SQLite, when the change token
        has not moved since the last check (one ``pread``); None otherwise, and always on PostgreSQL."""
        if self._settings.lake.catalog == "postgres":
            return None
        with self._lock:
            if self._token_fd is None or self._seen is None:
                return None
            try:
                token = os.pread(self._token_fd, _TOKEN_BYTES, 0)
            except OSError:
                return None
            return self._seen[1] if token == self._seen[0] else None

    def _ask_catalog(self) -> int | None:
        try:
            with self._lock:
                if self._conn is None:
                    self._conn = self._connect()
                conn = self._conn
                if self._settings.lake.catalog == "postgres":  # one session: queries take turns
                    rows = conn.execute(self._SQL).fetchall()
            if self._settings.lake.catalog != "postgres":  # DuckDB: a cursor per call, no turns
                with contextlib.closing(conn.cursor()) as cursor:
                    rows = cursor.execute("SELECT max(snapshot_id) FROM catalog.ducklake_snapshot").fetchall()
        except Exception:  # any driver error: cannot tell, and reconnect next time
            self.close()
            return None
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None
            if self._token_fd is not None:
                os.close(self._token_fd)
                self._token_fd = None
            self._seen = None


class Lake:
    """The attached lake. ``cursor()`` hands out a connection for one operation; a write on it goes inside
    ``write(cur)``, which takes the writers' turn and moves the change token that tells query engines (in this
    process and others) to look at the catalog again. A commit made on a cursor outside ``write`` is seen by a
    reused read transaction only once that ages out (``lake.query_reuse_ms``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_path = data_path(settings)
        self._writer_fd: int | None = None
        if settings.lake.catalog == "sqlite":
            path = writer_lock_path(settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            self._db = open_lake_db(settings)
        except duckdb.Error as exc:
            raise StoreUnavailable(f"cannot attach the lake catalog: {exc}", field="lake") from exc
        self._closed = False
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the lake is closed", field="lake")
            cur = self._db.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def new_cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection the caller closes (a ``ReadPool`` keeps read transactions open on such connections)."""
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the lake is closed", field="lake")
            return self._db.cursor()

    @contextlib.contextmanager
    def write(self, cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """One lake commit on ``cur``: everything inside is one snapshot, or nothing on any error.

        Writers take turns: the threads of this process by a lock, and, on a SQLite catalog, the processes of this
        machine by a lock file beside it, taken before the transaction reads the catalog. (SQLite cannot upgrade a
        reader to a writer while another writer is pending: it fails at once with "database is locked" whatever the
        busy timeout, and DuckLake commits would fail that way under concurrent writers.) Before giving up its turn
        a writer rewrites the lock file's change token (``LatestSnapshot`` reads it). On PostgreSQL, DuckLake's
        optimistic commits and retries serve writers on several machines."""
        with self._write_lock, self._writer_turn(), transaction(cur):
            yield

    @contextlib.contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self._writer_fd is None:
            yield
            return
        fcntl.flock(self._writer_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            try:  # whatever the transaction's outcome: a token that changes without a commit costs one check
                os.pwrite(self._writer_fd, secrets.token_bytes(_TOKEN_BYTES), 0)
            finally:
                fcntl.flock(self._writer_fd, fcntl.LOCK_UN)

    def vacuum_catalog(self) -> None:
        """Rewrite a SQLite catalog file without its free pages (deleted catalog rows leave their bytes there until
        overwritten). Call inside ``write``: the writers' turn is held, and SQLite waits for readers up to its busy
        timeout. A PostgreSQL catalog reclaims dead rows by its own VACUUM."""
        if self.settings.lake.catalog != "sqlite":
            return
        import sqlite3

        path = self.settings.in_data_dir(self.settings.lake.catalog_path)
        conn = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            conn.execute("VACUUM")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"could not vacuum the lake catalog: {exc}", field="lake") from exc
        finally:
            conn.close()

    def current_snapshot(self) -> int:
        with self.cursor() as cur:
            row = cur.execute(f"SELECT id FROM {CATALOG}.current_snapshot()").fetchone()  # noqa: S608 (validated, quoted identifiers)
        assert row is not None
        return int(row[0])

    def check(self) -> dict[str, object]:
        return {
            "catalog": self.settings.lake.catalog,
            "data": "s3" if on_s3(self.settings) else "local",
            "snapshot": self.current_snapshot(),
        }

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
                if self._writer_fd is not None:
                    os.close(self._writer_fd)
                    self._writer_fd = None
