"""The DuckLake: one in-process DuckDB with the lake attached as ``lake``, on a SQLite or PostgreSQL catalog.

Extensions load offline (``tables.extensions``); DuckDB's autoload and autoinstall are off. Each operation takes
its own cursor (a connection to the same DuckDB instance), so threads never share one. Several processes may
attach the same catalog: DuckLake commits are optimistic and each transaction reads the newest snapshot.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb

from lakehouse.config import Settings
from lakehouse.errors import StoreUnavailable
from lakehouse.tables.extensions import load_extensions

CATALOG = "lake"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def catalog_uri(settings: Settings) -> str:
    """The ``ducklake:`` URI of the catalog the settings name."""
    lake = settings.lake
    if lake.catalog == "postgres":
        assert lake.catalog_dsn is not None
        return "ducklake:postgres:" + lake.catalog_dsn.get_secret_value()
    return "ducklake:sqlite:" + str(settings.in_data_dir(lake.catalog_path))


def data_path(settings: Settings) -> str:
    """Where the lake's Parquet files go: a directory under the data dir (with a trailing slash)."""
    path = settings.in_data_dir(settings.lake.data_path)
    path.mkdir(parents=True, exist_ok=True)
    return str(path).rstrip("/") + "/"


class Lake:
    """The attached lake. ``cursor()`` hands out a connection for one operation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_path = data_path(settings)
        if settings.lake.catalog == "sqlite":
            Path(settings.in_data_dir(settings.lake.catalog_path)).parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, str | bool | int | float | list[str]] = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        self._db = duckdb.connect(":memory:", config=config)
        scanner = "postgres_scanner" if settings.lake.catalog == "postgres" else "sqlite_scanner"
        load_extensions(self._db, ["ducklake", scanner, "json", "parquet"])
        try:
            self._db.execute(
                f"ATTACH {_literal(catalog_uri(settings))} AS {CATALOG} (DATA_PATH {_literal(self.data_path)})"
            )
        except duckdb.Error as exc:
            self._db.close()
            raise StoreUnavailable(f"cannot attach the lake catalog: {exc}", field="lake") from exc
        self._closed = False
        self._lock = threading.Lock()

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

    def current_snapshot(self) -> int:
        with self.cursor() as cur:
            row = cur.execute(f"SELECT id FROM {CATALOG}.current_snapshot()").fetchone()  # noqa: S608 (validated, quoted identifiers)
        assert row is not None
        return int(row[0])

    def check(self) -> dict[str, object]:
        return {"catalog": self.settings.lake.catalog, "snapshot": self.current_snapshot()}

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
