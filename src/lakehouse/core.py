"""The embedded Lakehouse: every store of one data dir, opened in-process (``Lakehouse.open("./data")``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import sqlalchemy as sa

from lakehouse.apikeys import ApiKeyStore
from lakehouse.blobs import BlobStore, open_blob_store
from lakehouse.config import LoadedSettings, Settings, load_settings
from lakehouse.opsdb import create_engine, upgrade
from lakehouse.tables.datasets import Datasets
from lakehouse.tables.lake import Lake
from lakehouse.tables.query import QueryEngine, QueryResult


class Lakehouse:
    """Every store of one lakehouse. Services hold one of these; nothing else keeps state."""

    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.opsdb: sa.Engine = create_engine(settings.opsdb_url())
        if migrate:
            upgrade(self.opsdb)
        self.keys = ApiKeyStore(self.opsdb)
        self.blobs: BlobStore = open_blob_store(settings)
        self._lake: Lake | None = None
        self._queries: QueryEngine | None = None
        self._lake_lock = threading.Lock()

    @property
    def lake(self) -> Lake:
        """The DuckLake, attached on first use (commands that never touch tables never start DuckDB)."""
        with self._lake_lock:
            if self._lake is None:
                self._lake = Lake(self.settings)
            return self._lake

    @property
    def queries(self) -> QueryEngine:
        """The sandboxed read path (its own DuckDB instance), opened on first use."""
        self.lake  # noqa: B018 - the read path attaches READ_ONLY: the write side creates the catalog first
        with self._lake_lock:
            if self._queries is None:
                self._queries = QueryEngine(self.settings)
            return self._queries

    def sql(self, sql: str, params: list[Any] | dict[str, Any] | None = None, **options: Any) -> QueryResult:
        """Run read-only SQL over the lake, exactly as ``POST /v1/sql`` does."""
        return self.queries.run(sql, params, **options)

    @property
    def datasets(self) -> Datasets:
        return Datasets(self.lake)

    @classmethod
    def open(
        cls,
        data_dir: str | Path | None = None,
        *,
        settings: Settings | LoadedSettings | None = None,
        migrate: bool = True,
    ) -> Lakehouse:
        """Open (creating if needed) the lakehouse in ``data_dir``, or the one ``settings`` describe."""
        if isinstance(settings, LoadedSettings):
            settings = settings.settings
        if settings is None:
            settings = load_settings(overrides={"data_dir": str(data_dir) if data_dir else None}).settings
        elif data_dir is not None:
            settings = settings.model_copy(update={"data_dir": Path(data_dir)})
        return cls(settings, migrate=migrate)

    def _check_opsdb(self) -> dict[str, Any]:
        with self.opsdb.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"dialect": self.opsdb.dialect.name}

    async def _check_opsdb_async(self) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(self._check_opsdb)

    async def _check_lake_async(self) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(lambda: self.lake.check())

    async def readiness(self) -> dict[str, dict[str, Any]]:
        """Reach each store once; per store: ok, latency_ms and detail or error."""
        checks: dict[str, dict[str, Any]] = {}
        probes: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
            "opsdb": self._check_opsdb_async,
            "blobs": self.blobs.check,
            "lake": self._check_lake_async,
        }
        for name, probe in probes.items():
            started = time.perf_counter()
            try:
                checks[name] = {"ok": True, **await probe()}
            except Exception as exc:
                checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            checks[name]["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return checks

    def close(self) -> None:
        with self._lake_lock:
            if self._queries is not None:
                self._queries.close()
                self._queries = None
            if self._lake is not None:
                self._lake.close()
                self._lake = None
        self.opsdb.dispose()

    def __enter__(self) -> Lakehouse:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
