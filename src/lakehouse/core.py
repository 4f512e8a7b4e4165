"""The embedded Lakehouse: every store of one data dir, opened in-process (``Lakehouse.open("./data")``)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, Literal, cast

import anyio.to_thread
import sqlalchemy as sa

from lakehouse.apikeys import ApiKeyStore
from lakehouse.blobs import BlobStore, open_blob_store
from lakehouse.config import LoadedSettings, Settings, load_settings
from lakehouse.embed import Embeddings, EmbedResult
from lakehouse.health import StoreCheck
from lakehouse.memory import MemoryStore, Pathways, Playbooks
from lakehouse.memory.audit import MemoryTables
from lakehouse.observe import ObserveStore
from lakehouse.opsdb import create_engine, upgrade
from lakehouse.replay.recordings import Recordings
from lakehouse.tables.datasets import Datasets
from lakehouse.tables.ingest import Format, Ingestor, IngestResult, Mode, format_of_file, write_arrow_stream
from lakehouse.tables.lake import Lake
from lakehouse.tables.query import FRAME_OUTPUTS, QueryEngine, as_frame
from lakehouse.tables.screen import OnError, RowScreen
from lakehouse.tables.spool import new_file, spool_dir
from lakehouse.tables.spool import sweep as sweep_spool
from lakehouse.validation import SchemaCache, SchemaRegistry, Validation, Verdict
from lakehouse.validation.validate import SchemaSpec
from lakehouse.vectors import VectorStore


class Lakehouse:
    """Every store of one lakehouse. Services hold one of these; nothing else keeps state."""

    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        sweep_spool(settings)  # what requests of a process that died left behind
        self.opsdb: sa.Engine = create_engine(settings.opsdb_url())
        if migrate:
            upgrade(self.opsdb)
        self.keys = ApiKeyStore(self.opsdb)
        self.blobs: BlobStore = open_blob_store(settings)
        self.embeddings = Embeddings(settings, self.opsdb)
        self.vectors = VectorStore(settings, self.opsdb, lambda: self.lake, self.embeddings)
        self.memory = MemoryStore(self.opsdb, self.embeddings, settings.memory)
        self.pathways = Pathways(self.memory)
        self.playbooks = Playbooks(self.memory)
        self.memory.forgotten_listeners.append(self._drop_memory_tables)
        cache = SchemaCache(settings.validation.cache_size)
        self.schemas = SchemaRegistry(self.opsdb, cache)
        self.validation = Validation(
            self.schemas, cache, max_errors=settings.validation.max_errors, max_batch=settings.validation.max_batch
        )
        self.observe = ObserveStore(settings.observe, lambda: self.lake, self.opsdb)
        self.recordings = Recordings(lambda: self.lake, self.blobs)
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
                self._queries = QueryEngine(self.settings, MemoryTables(self.opsdb))
            return self._queries

    def _drop_memory_tables(self) -> None:
        with self._lake_lock:
            queries = self._queries
        if queries is not None:
            queries.drop_side_tables()

    def sql(
        self,
        sql: str,
        params: list[Any] | dict[str, Any] | None = None,
        *,
        output: Literal["result", "rows", "arrow", "pandas", "polars"] = "result",
        **options: Any,
    ) -> Any:
        """Run read-only SQL over the lake, exactly as ``POST /v1/sql`` does.

        ``output``: ``"result"`` (default) a :class:`QueryResult` (columns, rows, truncated, snapshot_id, ...; at
        most ``max_rows`` rows); ``"rows"`` its rows as tuples; ``"arrow"`` a ``pyarrow.Table``, ``"pandas"`` or
        ``"polars"`` a DataFrame, these three with every row. Options: ``snapshot``, ``as_of``, ``max_rows``,
        ``timeout_ms``, ``query_id``."""
        if output in FRAME_OUTPUTS:
            options.pop("max_rows", None)
            return as_frame(self.queries.arrow(sql, params, **options), output)
        if output not in ("result", "rows"):
            raise ValueError("output must be one of result, rows, arrow, pandas, polars")
        result = self.queries.run(sql, params, **options)
        return [tuple(row) for row in result.rows] if output == "rows" else result

    def ingest(
        self,
        dataset: str,
        data: bytes | IO[bytes] | Iterable[bytes] | Path | Any,
        *,
        format: Format | None = None,
        mode: Mode = "append",
        key: Sequence[str] = (),
        create: bool = False,
        schema: str | None = None,
        on_error: OnError = "reject",
        progress: Callable[[float], None] | None = None,
        commit_tag: str | None = None,
    ) -> IngestResult:
        """Write ``data`` into ``dataset`` as one lake commit, exactly as ``POST /v1/datasets/{name}/ingest`` does.

        ``data``: a path (read in place), bytes, a binary file or an iterable of chunks (spooled to disk first),
        each with ``format`` (csv, ndjson, json, parquet, arrow); or anything that exports an Arrow stream (a
        ``pyarrow.Table``, a pandas or polars DataFrame), written as Arrow IPC without ``format``. ``schema``
        (``"name"`` or ``"name@version"``) checks every row first: ``on_error="reject"`` refuses the data when any
        row fails, ``"skip"`` writes the rows that pass and reports the others (``result.screened``). ``progress`` is
        called with the percent of the input read; ``commit_tag`` (an idempotency token) is kept in the commit, so a
        retry finds what the first attempt wrote (``Ingestor.find_commit``). The one entry point: the route and the
        CLI call it too; ``result.summary()`` is the route's answer."""
        screen = self.row_screen(schema, on_error) if schema is not None else None

        def write(path: Path, fmt: Format) -> IngestResult:
            return Ingestor(self.lake).ingest_file(
                dataset,
                path,
                fmt,
                mode=mode,
                key=key,
                create=create,
                screen=screen,
                progress=progress,
                commit_tag=commit_tag,
            )

        if isinstance(data, Path):
            format = format or format_of_file(data)
            if format is None:
                raise ValueError(f"cannot tell the format of {data.name} by its suffix: give format=")
            return write(data, format)
        spool = new_file(spool_dir(self.settings), ".body")
        try:
            with spool.open("xb") as handle:
                if hasattr(data, "__arrow_c_stream__") and format in (None, "arrow"):
                    write_arrow_stream(data, handle)
                    format = "arrow"
                elif format is None:
                    raise ValueError("give the format of the data: csv, ndjson, json, parquet or arrow")
                elif isinstance(data, bytes | bytearray | memoryview):
                    handle.write(data)
                elif hasattr(data, "read"):
                    shutil.copyfileobj(cast(IO[bytes], data), handle, 1024 * 1024)
                else:
                    for chunk in data:
                        handle.write(chunk)
            return write(spool, format)
        finally:
            spool.unlink(missing_ok=True)

    def row_screen(self, schema: str, on_error: OnError = "reject") -> RowScreen:
        """The check ingest runs on each row for ``?schema=`` (the schema resolved now: 404 or 410 if it cannot)."""
        bound = self.validation.validator(schema)
        limit = bound.max_errors
        compiled = bound.compiled
        return RowScreen(
            check=lambda row: compiled.errors(row, limit),
            label=self.validation.label(bound.schema),
            on_error=on_error,
            max_errors=limit,
        )

    def validate(self, schema: SchemaSpec, payload: Any, *, max_errors: int | None = None) -> Verdict:
        """Validate ``payload`` against a registered schema (``"name"``, ``"name@3"``) or one inline, exactly as
        ``POST /v1/validate`` does; the verdict's ``errors`` are the wire's error items."""
        return self.validation.validate(schema, payload, max_errors=max_errors)

    def embed(self, texts: Sequence[str], *, model: str | None = None) -> EmbedResult:
        """Vectors for ``texts``, exactly as ``POST /v1/embed`` gives them: ``result.vectors`` is a float32 array, one
        row per text. ``model``: a name from ``embeddings.models()`` (default: the configured provider)."""
        return self.embeddings.embed(list(texts), model)

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

    async def readiness(self) -> dict[str, StoreCheck]:
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
        return {name: StoreCheck.model_validate(check) for name, check in checks.items()}

    def close(self) -> None:
        self.observe.close()
        self.memory.close()
        self.vectors.close()
        self.embeddings.close()
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
