"""Read-only SQL over the lake, in a sandbox.

A query runs on its own DuckDB instance with the lake attached ``READ_ONLY`` and made the default catalog (so
``customers`` and ``sales.orders`` resolve), then locked down before any user SQL: ``allowed_directories`` = the
lake's data, ``enable_external_access = false``, extension autoload/autoinstall off, per-query ``threads`` and
``memory_limit``, and ``lock_configuration = true``. Statements are judged by DuckDB's own parser: exactly one,
of type SELECT or EXPLAIN. The watchdog interrupts a query past its time limit. Time travel (``snapshot`` or
``as_of``) uses an instance attached at that snapshot, kept in a small cache. Each instance keeps the read
transactions of finished queries open for the next ones at the same snapshot (``tables.read_pool``).

Every query is registered under an id while it runs (given by the caller or generated), so it can be listed and
cancelled (``QueryEngine.cancel``) from another request: cancelling interrupts its cursor.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import functools
import io
import json
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from lakehouse.config import Settings
from lakehouse.errors import (
    ForbiddenStatement,
    InvalidSql,
    PermissionDenied,
    QueryCancelled,
    QueryFailed,
    QueryIdInUse,
    QueryNotFound,
    QueryTimeout,
    StoreUnavailable,
)
from lakehouse.tables.lake import LatestSnapshot, data_path, open_lake_db, sql_literal
from lakehouse.tables.model import RunningQuery as RunningQueryInfo
from lakehouse.tables.read_pool import CLOCK_FUNCTIONS, Lease, ReadPool
from lakehouse.tables.sandbox import UNRESTRICTED, Grant, Verdict, judge
from lakehouse.tables.side_tables import SideCopy, SideTables
from lakehouse.tables.watchdog import Watchdog
from lakehouse.times import as_utc

_PINNED_ENGINES = 8
# Rows per streamed batch: columnar formats in large batches (one Parquet row group each, few chunks to send),
# text formats in small ones so the first bytes go out early.
BATCH_ROWS = {"arrow": 32_768, "parquet": 131_072, "csv": 10_000, "ndjson": 10_000}


def _session_gone(exc: duckdb.Error) -> bool:
    """What a reused read transaction fails with when its catalog session has gone (DuckLake reports a lost
    PostgreSQL connection as a plain ``duckdb.Error``): worth one more try in a fresh transaction."""
    return type(exc) is duckdb.Error or isinstance(
        exc, duckdb.TransactionException | duckdb.ConnectionException | duckdb.IOException
    )


def _identifiers(sql: str) -> Iterator[str]:
    """The identifiers in ``sql`` as DuckDB's tokenizer sees them (comments and strings excluded), unquoted."""
    tokens = duckdb.tokenize(sql)
    for index, (start, kind) in enumerate(tokens):
        if kind == duckdb.token_type.identifier:
            end = tokens[index + 1][0] if index + 1 < len(tokens) else len(sql)
            yield sql[start:end].strip().strip('"').lower()


FRAME_OUTPUTS = ("arrow", "pandas", "polars")


def as_frame(table: Any, output: str) -> Any:
    """A ``pyarrow.Table`` as the frame ``output`` names: ``arrow`` (itself), ``pandas`` or ``polars``."""
    if output == "pandas":
        return table.to_pandas()
    if output == "polars":
        import polars

        return polars.from_arrow(table)
    return table


def check_statement(sql: str, grant: Grant = UNRESTRICTED) -> Verdict:
    """Judge ``sql`` by the sandbox's allow-lists (``tables.sandbox``): the statement to run, or an error."""
    return judge(sql, grant)


@functools.lru_cache(maxsize=1024)
def _reads_clock(sql: str) -> bool:
    """Whether the statement names a function DuckDB evaluates once per transaction (then it runs in a fresh one)."""
    return not CLOCK_FUNCTIONS.isdisjoint(_identifiers(sql))


class _Engine:
    """One sandboxed DuckDB instance on the lake, optionally pinned to a snapshot."""

    def __init__(
        self, settings: Settings, watchdog: Watchdog, latest: LatestSnapshot | None = None, pin: str = ""
    ) -> None:
        config: dict[str, str | bool | int | float | list[str]] = {
            "threads": settings.lake.query_threads,
            "memory_limit": settings.lake.query_memory_limit,
        }
        lake_data = data_path(settings)
        try:
            self.db = open_lake_db(settings, config, f", READ_ONLY{pin}", for_queries=True)
        except duckdb.Error as exc:
            message = str(exc).split("\n")[0]
            if pin:
                raise InvalidSql(f"no such snapshot: {message}", field="snapshot") from exc
            raise StoreUnavailable(f"cannot attach the lake catalog: {message}", field="lake") from exc
        self.db.execute(f"SET allowed_directories = [{sql_literal(lake_data)}]")
        self.db.execute("SET python_enable_replacements = false")
        self.db.execute("SET enable_external_access = false")
        self.db.execute("SET lock_configuration = true")
        # The current lake's engine asks ``latest`` whether an idle transaction still reads the newest snapshot; a
        # pinned engine's transactions always read its snapshot. A pinned engine keeps fewer idle: up to 8 pinned
        # engines are open at once, and each idle transaction holds a catalog session.
        self.reads = ReadPool(
            self.db.cursor,
            watchdog,
            latest=None if pin else latest,
            max_age=settings.lake.query_reuse_ms / 1000,
            capacity=2 if pin else 8,
        )
        self.users = 0  # queries holding it (QueryEngine's lock guards this and ``retired``)
        self.retired = False  # out of the cache: closed when its last query ends
        self.memory = SideCopy(self.db)  # the side tables (memory.*), copied when a query names them

    def close(self) -> None:
        self.reads.close()
        self.db.close()


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclass
class QueryResult:
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool
    snapshot_id: int
    elapsed_ms: float
    query_id: str

    def to_dict(self) -> dict[str, Any]:
        """``tables.model.SqlAnswer`` as JSON-ready values, built directly: the rows are already JSON values, and
        a result can be large, so it is not validated again on the way out."""
        return {
            "columns": self.columns,
            "rows": self.rows,
            "row_count": len(self.rows),
            "truncated": self.truncated,
            "snapshot_id": self.snapshot_id,
            "elapsed_ms": self.elapsed_ms,
            "query_id": self.query_id,
        }


class _Sink(io.RawIOBase):
    """A write-only file that hands out what was written and keeps counting, as Parquet's footer needs."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _csv_ready(table: Any) -> Any:
    """Nested columns (lists, structs, maps), which CSV cannot hold, as JSON text."""
    import pyarrow as pa

    for index, column in enumerate(table.columns):
        if pa.types.is_nested(column.type):
            text = pa.array([None if v is None else json.dumps(_jsonable(v)) for v in column.to_pylist()], pa.string())
            table = table.set_column(index, table.field(index).name, text)
    return table


def encode_batches(reader: Any, fmt: str) -> Iterator[bytes]:
    """Arrow record batches as NDJSON, CSV, an Arrow IPC stream or Parquet, one chunk per batch."""
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.ipc
    import pyarrow.parquet

    if fmt == "ndjson":
        for batch in reader:
            yield "".join(json.dumps(_jsonable(row)) + "\n" for row in batch.to_pylist()).encode()
        return
    sink = _Sink()
    if fmt == "csv":
        first = True
        for batch in reader:
            options = pyarrow.csv.WriteOptions(include_header=first)
            pyarrow.csv.write_csv(_csv_ready(pa.Table.from_batches([batch])), sink, write_options=options)
            first = False
            yield sink.take()
        if first:  # no rows: still send the header
            pyarrow.csv.write_csv(pa.Table.from_batches([], schema=reader.schema), sink)
            yield sink.take()
        return
    writer: Any = (
        pyarrow.ipc.new_stream(sink, reader.schema)
        if fmt == "arrow"
        else pyarrow.parquet.ParquetWriter(sink, reader.schema)
    )
    with writer:
        for batch in reader:
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


@dataclass
class RunningQuery:
    """A query between its start and its last byte."""

    id: str
    sql: str
    owner: str | None
    started_at: dt.datetime
    started: float
    cursor: duckdb.DuckDBPyConnection | None = None  # while it has one (QueryEngine's lock guards it)
    cancelled: bool = False

    def cancelled_error(self) -> QueryCancelled:
        return QueryCancelled(f"query {self.id} was cancelled", field="query_id")

    def info(self) -> RunningQueryInfo:
        return RunningQueryInfo(
            query_id=self.id,
            sql=self.sql,
            started_at=self.started_at,
            elapsed_ms=round((time.perf_counter() - self.started) * 1000, 2),
            cancelled=self.cancelled,
        )


_INTERRUPT_AGAIN_S = 0.05


def _map_error(exc: duckdb.Error, running: RunningQuery | None = None) -> Exception:
    message = str(exc).split("\n")[0]
    if isinstance(exc, duckdb.InterruptException):
        if running is not None and running.cancelled:
            return running.cancelled_error()
        return QueryTimeout("the query ran past its time limit and was interrupted", field="timeout_ms")
    if isinstance(exc, duckdb.PermissionException):
        return PermissionDenied(message, field="sql")
    if isinstance(exc, duckdb.InvalidInputException) and "Cannot execute statement" in message:
        return ForbiddenStatement(message, field="sql")
    if isinstance(exc, duckdb.ParserException | duckdb.CatalogException | duckdb.BinderException):
        return InvalidSql(message, field="sql")
    return QueryFailed(message, field="sql")


class QueryEngine:
    """Runs read-only SQL. Thread-safe: each query takes its own cursor."""

    def __init__(self, settings: Settings, memory: SideTables | None = None) -> None:
        self.settings = settings
        self._memory = memory  # side tables readable as memory.* (the agent memory's; None: not offered)
        self._watchdog = Watchdog()
        self._latest = LatestSnapshot(settings)
        self._current = _Engine(settings, self._watchdog, self._latest)
        self._pinned: OrderedDict[str, _Engine] = OrderedDict()
        self._lock = threading.Lock()
        self._running: dict[str, RunningQuery] = {}

    def running(self, owner: str | None = None) -> list[RunningQuery]:
        """The queries running now (only ``owner``'s when given), oldest first."""
        with self._lock:
            found = [q for q in self._running.values() if owner is None or q.owner == owner]
        return sorted(found, key=lambda q: q.started)

    def cancel(self, query_id: str, owner: str | None = None) -> RunningQuery:
        """Interrupt a running query (only ``owner``'s when given: another owner's query is not found)."""
        with self._lock:
            running = self._running.get(query_id)
            if running is None or (owner is not None and running.owner != owner):
                raise QueryNotFound(f"no running query {query_id}", field="query_id")
            running.cancelled = True
            cursor = running.cursor
        if cursor is not None:
            self._interrupt_until_over(running, cursor)
        return running

    @contextlib.contextmanager
    def _register(self, sql: str, query_id: str, owner: str | None) -> Iterator[RunningQuery]:
        running = RunningQuery(query_id, sql, owner, dt.datetime.now(dt.UTC), time.perf_counter())
        with self._lock:
            if query_id in self._running:
                raise QueryIdInUse(f"a running query already has id {query_id}", field="query_id")
            self._running[query_id] = running
        try:
            yield running
        finally:
            with self._lock:
                self._running.pop(query_id, None)

    @contextlib.contextmanager
    def _engine(self, snapshot: int | None, as_of: dt.datetime | None) -> Iterator[_Engine]:
        """The engine for the current lake or for a pinned snapshot, held for one query. A pinned engine pushed out
        of the cache is closed when its last query ends, never under a running one."""
        if snapshot is None and as_of is None:
            yield self._current
            return
        if snapshot is not None:
            pin = f", SNAPSHOT_VERSION {int(snapshot)}"
        else:
            assert as_of is not None
            stamp = as_utc(as_of)
            pin = f", SNAPSHOT_TIME {sql_literal(stamp.isoformat())}"
        with self._lock:
            engine = self._pinned.get(pin)
            if engine is not None:
                self._pinned.move_to_end(pin)
                engine.users += 1
        if engine is None:
            fresh = _Engine(self.settings, self._watchdog, pin=pin)
            with self._lock:
                engine = self._pinned.setdefault(pin, fresh)  # another thread may have opened it meanwhile
                self._pinned.move_to_end(pin)
                engine.users += 1
                while len(self._pinned) > _PINNED_ENGINES:
                    self._retire(self._pinned.popitem(last=False)[1])
            if engine is not fresh:
                fresh.close()
        try:
            yield engine
        finally:
            with self._lock:
                engine.users -= 1
                if engine.retired and engine.users == 0:
                    engine.close()

    @staticmethod
    def _retire(engine: _Engine) -> None:
        """Out of the cache (the QueryEngine's lock is held): close now if idle, else when its last query ends."""
        engine.retired = True
        if engine.users == 0:
            engine.close()

    @contextlib.contextmanager
    def _cursor(
        self,
        sql: str,
        params: list[Any] | dict[str, Any] | None,
        snapshot: int | None,
        as_of: dt.datetime | None,
        timeout_ms: int | None,
        query_id: str | None,
        owner: str | None,
        grant: Grant = UNRESTRICTED,
    ) -> Iterator[tuple[duckdb.DuckDBPyConnection, Lease, str]]:
        """A cursor in a read transaction, with ``sql`` executed, its lease (the snapshot it reads; set
        ``reusable`` once the whole result is read) and the query's id (generated when not given), registered as
        running.

        The time limit (``timeout_ms`` capped by lake.query_timeout_ms) covers opening the transaction, executing
        and fetching: the watchdog interrupts the cursor when it runs out. A reused transaction whose catalog session
        has gone (a PostgreSQL restart, say) fails with a transaction, connection or I/O error before any row: the
        query then runs once more in a fresh one."""
        verdict = judge(sql, grant)
        limit_ms = self.settings.lake.query_timeout_ms
        deadline_at = time.monotonic() + min(timeout_ms or limit_ms, limit_ms) / 1000
        query_id = query_id or uuid.uuid4().hex
        # A statement that reads the memory tables reads a current copy of them, in a transaction begun after the
        # copy was made (an idle one may predate it).
        memory = self._memory is not None and verdict.reads_memory
        fresh = memory or _reads_clock(sql)
        with self._engine(snapshot, as_of) as engine, self._register(sql, query_id, owner) as running:
            if memory:
                assert self._memory is not None
                try:
                    engine.memory.refresh(self._memory)
                except duckdb.Error as exc:
                    raise _map_error(exc, running) from exc
            while True:
                with engine.reads.lease(fresh=fresh) as lease:
                    cur = lease.cursor
                    reused = lease.snapshot_id is not None
                    deadline = self._watch(running, cur, deadline_at)
                    try:
                        try:
                            lease.begin()
                            if running.cancelled:  # before DuckDB had a query to interrupt
                                raise running.cancelled_error()
                            if params:
                                cur.execute(verdict.sql, params)
                            else:
                                cur.execute(verdict.sql)
                        except duckdb.Error as exc:
                            if (
                                reused
                                and _session_gone(exc)
                                and self._watchdog.forget(deadline)
                                and not running.cancelled
                            ):
                                fresh = True  # the reused transaction's session is gone: once more, fresh
                                continue
                            raise
                        if running.cancelled:  # cancelled between the check above and DuckDB starting
                            raise running.cancelled_error()
                        yield cur, lease, query_id
                        return
                    except duckdb.Error as exc:
                        raise _map_error(exc, running) from exc
                    finally:
                        with self._lock:  # from here a cancel cannot reach this connection, lent again or not
                            running.cursor = None
                            cancelled = running.cancelled
                        # an interrupt that fired (or may still land) or a cancel: never lend the connection again
                        if not self._watchdog.forget(deadline) or cancelled:
                            lease.reusable = False

    def _watch(self, running: RunningQuery, cur: duckdb.DuckDBPyConnection, deadline_at: float) -> int:
        """Make ``cur`` the running query's cursor (what a cancel interrupts) and have the watchdog interrupt it at
        ``deadline_at``. (A cancel that came earlier is seen by the check before ``execute``: an interrupt of an idle
        connection does nothing.)"""
        with self._lock:
            running.cursor = cur
        return self._watchdog.watch(
            max(deadline_at - time.monotonic(), 0.0), lambda: self._interrupt_until_over(running, cur)
        )

    def _interrupt_until_over(self, running: RunningQuery, cur: duckdb.DuckDBPyConnection) -> None:
        """Interrupt ``cur``, and again every 50 ms until the query has given it back: DuckDB drops an interrupt
        that reaches a connection before its query has started (on a loaded machine a deadline or a cancel can come
        after the transaction opened and before the query began), and one lost interrupt let a query run unbounded."""
        cur.interrupt()
        with self._lock:
            still_running = running.cursor is cur
        if still_running:
            self._watchdog.watch(_INTERRUPT_AGAIN_S, lambda: self._interrupt_until_over(running, cur))

    def run(
        self,
        sql: str,
        params: list[Any] | dict[str, Any] | None = None,
        *,
        snapshot: int | None = None,
        as_of: dt.datetime | None = None,
        max_rows: int | None = None,
        timeout_ms: int | None = None,
        query_id: str | None = None,
        owner: str | None = None,
        grant: Grant = UNRESTRICTED,
    ) -> QueryResult:
        """Run a query and return at most ``max_rows`` rows (``truncated`` says when there were more)."""
        started = time.perf_counter()
        limit = min(max_rows or self.settings.lake.query_max_rows, self.settings.lake.query_max_rows)
        with self._cursor(sql, params, snapshot, as_of, timeout_ms, query_id, owner, grant) as (cur, lease, query_id):
            description = cur.description or []
            fetched = cur.fetchmany(limit + 1)
            lease.reusable = len(fetched) <= limit  # read to its end
            snapshot_id = lease.begin()
        columns = [{"name": str(d[0]), "type": str(d[1])} for d in description]
        return QueryResult(
            columns=columns,
            rows=[[_jsonable(v) for v in row] for row in fetched[:limit]],
            truncated=len(fetched) > limit,
            snapshot_id=snapshot_id,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
            query_id=query_id,
        )

    def arrow(
        self,
        sql: str,
        params: list[Any] | dict[str, Any] | None = None,
        *,
        snapshot: int | None = None,
        as_of: dt.datetime | None = None,
        timeout_ms: int | None = None,
        query_id: str | None = None,
        owner: str | None = None,
        grant: Grant = UNRESTRICTED,
    ) -> Any:
        """Run a query and return every row as a ``pyarrow.Table`` (no row cap; the time limit applies)."""
        with self._cursor(sql, params, snapshot, as_of, timeout_ms, query_id, owner, grant) as (cur, lease, _):
            try:
                table = cur.to_arrow_table()
            except duckdb.Error as exc:
                raise _map_error(exc) from exc
            lease.reusable = True
            return table

    def stream(
        self,
        sql: str,
        params: list[Any] | dict[str, Any] | None = None,
        *,
        fmt: str,
        snapshot: int | None = None,
        as_of: dt.datetime | None = None,
        timeout_ms: int | None = None,
        batch_rows: int | None = None,
        query_id: str | None = None,
        owner: str | None = None,
        grant: Grant = UNRESTRICTED,
    ) -> tuple[int, Iterator[bytes]]:
        """Run a query and return (snapshot id, the result encoded as ``fmt``, batch by batch).

        Errors in the SQL are raised here, before any byte is produced; the stream holds the query open (and
        registered as running) until it is exhausted or closed, within the time limit (past it, or when cancelled,
        the stream ends early)."""
        stack = contextlib.ExitStack()
        try:
            opened = self._cursor(sql, params, snapshot, as_of, timeout_ms, query_id, owner, grant)
            cur, lease, _ = stack.enter_context(opened)
            reader = cur.to_arrow_reader(batch_rows or BATCH_ROWS[fmt])
        except BaseException:
            stack.close()
            raise

        def chunks() -> Iterator[bytes]:
            with stack:
                yield from encode_batches(reader, fmt)
                lease.reusable = True  # read to its end (a stream closed early closes its connection)

        return lease.begin(), chunks()

    def drop_side_tables(self) -> None:
        """Forget every engine's copy of the side tables (called after a memory is forgotten)."""
        if self._memory is None:
            return
        with self._lock:  # held so that no engine is closed under the drop
            for engine in [self._current, *self._pinned.values()]:
                if not engine.retired:
                    engine.memory.drop(self._memory)

    def close(self) -> None:
        with self._lock:
            self._current.close()
            for engine in self._pinned.values():
                self._retire(engine)
            self._pinned.clear()
        self._latest.close()
