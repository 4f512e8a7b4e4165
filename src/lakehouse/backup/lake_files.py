"""The table lake in a backup: its catalog as one SQLite file (``lake/catalog.sqlite``: every snapshot, so time
travel answers the same after a restore) and every data and delete file those snapshots need (``lake/data/``, by
the path relative to the lake's data path). Files are read and written through obstore, on disk or under S3."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
from obstore.store import LocalStore, ObjectStore, S3Store

from lakehouse.blobs.s3 import make_s3_store
from lakehouse.config import Settings
from lakehouse.errors import BackupInvalid, ConfigError, StoreUnavailable
from lakehouse.tables.extensions import load_extensions
from lakehouse.tables.lake import data_path, on_s3, sql_literal

_NAME = re.compile(r"[A-Za-z0-9_]{1,128}")
CATALOG = "lake/catalog.sqlite"
DATA_DIR = "lake/data"


def s3_store_for(settings: Settings, url: str) -> S3Store:
    """An S3 client for ``s3://bucket/prefix`` over the storage.s3 connection (another bucket allowed), its paths
    relative to the prefix."""
    parts = urlsplit(url)
    return make_s3_store(settings.storage.s3.model_copy(update={"bucket": parts.netloc}), parts.path.strip("/"))


def data_store(settings: Settings) -> ObjectStore:
    """The lake's data path as an object store, whose paths are relative to it."""
    if on_s3(settings):
        return s3_store_for(settings, settings.lake.data_path)
    return LocalStore(data_path(settings), mkdir=True)


def _copy_postgres_catalog(settings: Settings, into: Path) -> None:
    """A PostgreSQL catalog's tables into a SQLite file DuckLake reads as a catalog, in one DuckDB transaction (the
    postgres extension reads every table of it from one snapshot)."""
    assert settings.lake.catalog_dsn is not None
    db = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        load_extensions(db, ["postgres_scanner", "sqlite_scanner"])
        db.execute(
            f"ATTACH {sql_literal(settings.lake.catalog_dsn.get_secret_value())} AS pg (TYPE postgres, READ_ONLY)"
        )
        db.execute(f"ATTACH {sql_literal(str(into))} AS copy (TYPE sqlite)")
        db.execute("BEGIN")
        tables = db.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = 'pg' AND table_name LIKE 'ducklake\\_%' ESCAPE '\\'"
        ).fetchall()
        schemas = {schema for schema, _ in tables}
        if len(schemas) > 1:
            raise ConfigError(f"the catalog database holds DuckLake tables in {len(schemas)} schemas; expected one")
        for schema, table in tables:
            if not (_NAME.fullmatch(schema) and _NAME.fullmatch(table)):
                raise ConfigError(f"unexpected name in the catalog database: {schema}.{table}")
            db.execute(f'CREATE TABLE copy."{table}" AS SELECT * FROM pg."{schema}"."{table}"')  # noqa: S608 - checked names
        db.execute("COMMIT")
    except duckdb.Error as exc:
        raise StoreUnavailable(f"the lake catalog could not be copied: {exc}", field="lake") from exc
    finally:
        db.close()


def copy_catalog(settings: Settings, into: Path) -> None:
    """The catalog, as it is at this instant, into ``into`` as one SQLite file: SQLite's online backup of an
    embedded catalog, or a PostgreSQL catalog's tables read in one snapshot."""
    into.parent.mkdir(parents=True, exist_ok=True)
    if settings.lake.catalog == "postgres":
        _copy_postgres_catalog(settings, into)
        return
    source = settings.in_data_dir(settings.lake.catalog_path)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(into)
    try:
        src.backup(dst)
        # the copy leaves WAL mode behind: one file, with no -wal and -shm beside it to come and go as it is read
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def latest_snapshot(catalog: Path) -> int | None:
    with contextlib.closing(sqlite3.connect(catalog)) as db:
        row = db.execute("SELECT max(snapshot_id) FROM ducklake_snapshot").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def needed_files(catalog: Path) -> Iterator[str]:
    """Every data and delete file of every snapshot the catalog holds, relative to the data path."""
    query = """
        WITH s AS (SELECT schema_id, max(path) AS path, max(path_is_relative) AS rel FROM ducklake_schema
                   GROUP BY schema_id),
             t AS (SELECT table_id, max(schema_id) AS schema_id, max(path) AS path, max(path_is_relative) AS rel
                   FROM ducklake_table GROUP BY table_id),
             f AS (SELECT table_id, path, path_is_relative AS rel FROM ducklake_data_file
                   UNION SELECT table_id, path, path_is_relative FROM ducklake_delete_file)
        SELECT s.path, s.rel, t.path, t.rel, f.path, f.rel
        FROM f JOIN t ON t.table_id = f.table_id JOIN s ON s.schema_id = t.schema_id
        ORDER BY 1, 3, 5
    """
    with contextlib.closing(sqlite3.connect(catalog)) as db:
        rows = db.execute(query).fetchall()
    for schema_path, schema_rel, table_path, table_rel, file_path, file_rel in rows:
        if not (file_rel and table_rel and schema_rel):
            raise ConfigError(
                f"the lake has a file outside its data path ({file_path}); lakehouse backup covers files under it",
                field="lake.data_path",
            )
        yield f"{schema_path}{table_path}{file_path}"


def set_data_path(catalog: Path, settings: Settings) -> None:
    """Point a restored catalog at the target's data path (its files are relative to it)."""
    with contextlib.closing(sqlite3.connect(catalog)) as db, db:  # closed, after the commit
        db.execute(
            "UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path' AND scope IS NULL", [data_path(settings)]
        )


def check_catalog(catalog: Path) -> None:
    """A restore refuses a catalog SQLite cannot read whole."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)) as db:
            (verdict,) = db.execute("PRAGMA integrity_check").fetchone()
            db.execute("SELECT count(*) FROM ducklake_snapshot").fetchone()
    except sqlite3.Error as exc:
        raise BackupInvalid(f"the lake catalog of the backup cannot be read: {exc}", field="lake") from exc
    if verdict != "ok":
        raise BackupInvalid(f"the lake catalog of the backup is damaged: {verdict}", field="lake")
