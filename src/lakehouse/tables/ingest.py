"""Ingest: a file (CSV, NDJSON, JSON array, Parquet, Arrow IPC stream) into a dataset, as one lake commit.

The source is read by DuckDB's own readers straight from the (spooled) file, so memory stays bounded. Modes:
``append`` inserts, ``overwrite`` replaces every row, ``upsert`` MERGEs on key columns. Schema evolution: a
column the dataset lacks is added (nullable); a column whose incoming type is wider is widened when DuckLake can
do it losslessly; anything else is refused with one ``schema_mismatch`` item per column. Every step runs in one
transaction: on any error no row is visible and the dataset's snapshot is unchanged.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from lakehouse.errors import (
    ConversionFailed,
    DatasetNotFound,
    DuplicateKey,
    EmptyBody,
    ErrorItem,
    InvalidName,
    MalformedInput,
    MixedTypes,
    NulCharacter,
    SchemaMismatch,
    UnsupportedMediaType,
)
from lakehouse.inputs import ARROW_EOS, check_arrow_end, check_json_file, check_no_nul
from lakehouse.tables.column_fit import fits, widens
from lakehouse.tables.datasets import Datasets, _qualified, split_name
from lakehouse.tables.lake import Lake, sql_literal
from lakehouse.tables.model import IngestSummary
from lakehouse.tables.names import quote, validate_identifier
from lakehouse.tables.screen import RowScreen, Screened, screen_rows
from lakehouse.tables.spool import spool_dir

Format = Literal["csv", "ndjson", "json", "parquet", "arrow"]
Mode = Literal["append", "overwrite", "upsert"]

MEDIA_TYPES: dict[str, Format] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/json": "json",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/vnd.apache.arrow.stream": "arrow",
}


def _arrow_as_parquet(path: Path, cleanup: contextlib.ExitStack) -> Path:
    """An Arrow IPC stream file rewritten, batch by batch, as an uncompressed Parquet file next to it (removed by
    ``cleanup``), which DuckDB scans as often as needed with memory bounded by a row group. DuckDB's own scan of an
    Arrow stream keeps every batch until the statement ends, so a large body would be held whole."""
    import pyarrow as pa
    import pyarrow.ipc
    import pyarrow.parquet

    staged = path.with_name(path.name + ".parquet")
    cleanup.callback(staged.unlink, missing_ok=True)
    try:
        with pa.OSFile(str(path)) as source:
            reader = pyarrow.ipc.open_stream(source)
            with pyarrow.parquet.ParquetWriter(
                str(staged), reader.schema, compression="none", use_dictionary=False, write_statistics=False
            ) as writer:
                for batch in reader:
                    writer.write_batch(batch)
    except (pa.ArrowInvalid, OSError) as exc:
        item = ErrorItem(kind="malformed_input", field="body", reason=str(exc))
        raise MalformedInput(f"the body is not an Arrow IPC stream: {exc}", errors=[item]) from exc
    except pa.ArrowException as exc:  # a valid stream with a type Parquet (so a dataset) cannot hold, e.g. intervals
        item = ErrorItem(kind="conversion_failed", field="body", reason=str(exc))
        raise ConversionFailed(
            f"the Arrow stream has a column type a dataset cannot hold: {exc}", errors=[item]
        ) from exc
    with path.open("rb") as handle:  # a stream cut between two batches reads as complete: only its end marker tells
        handle.seek(max(path.stat().st_size - len(ARROW_EOS), 0))
        check_arrow_end(handle.read())
    return staged


@contextlib.contextmanager
def _reporting(cur: duckdb.DuckDBPyConnection, progress: Callable[[float], None]) -> Iterator[None]:
    """Poll DuckDB's progress of the statement running on ``cur`` ten times a second and hand it to ``progress``."""
    cur.execute("SET enable_progress_bar = true")
    cur.execute("SET enable_progress_bar_print = false")
    cur.execute("SET progress_bar_time = 0")
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.1):
            percent = cur.query_progress()
            if percent >= 0:
                progress(percent)

    watcher = threading.Thread(target=poll, name="lakehouse-ingest-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
    progress(100.0)  # reached only when the write succeeded


def write_arrow_stream(data: Any, sink: Any) -> None:
    """Write anything that exports an Arrow C stream (a pyarrow Table, a pandas or polars DataFrame) to ``sink`` as
    an Arrow IPC stream, batch by batch."""
    import pyarrow as pa
    import pyarrow.ipc

    reader = pa.RecordBatchReader.from_stream(data)
    with pyarrow.ipc.new_stream(sink, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


_LINE = re.compile(r"(?:Line|line):? (\d+)")


@dataclass(frozen=True)
class IngestResult:
    namespace: str
    name: str
    mode: Mode
    rows_written: int
    snapshot_id: int
    bytes_read: int
    duration_ms: float
    created: bool
    schema_changes: list[dict[str, str]] = field(default_factory=list)
    screened: Screened | None = None
    schema: str | None = None

    def summary(self) -> IngestSummary:
        """The answer of the route (and of the client): what was written, and what a schema refused."""
        return IngestSummary.model_validate(
            {
                "dataset": f"{self.namespace}.{self.name}",
                "mode": self.mode,
                "rows_written": self.rows_written,
                "snapshot_id": self.snapshot_id,
                "bytes_read": self.bytes_read,
                "duration_ms": self.duration_ms,
                "created": self.created,
                "schema_changes": self.schema_changes,
                **_screen_summary(self.schema, self.screened),
            }
        )


def _screen_summary(schema: str | None, screened: Screened | None) -> dict[str, Any]:
    if screened is None:
        return {}
    return {"schema": schema, "rows_rejected": screened.rows_rejected, "rejected": screened.rejected}


def format_for(content_type: str | None) -> Format:
    """The format a ``Content-Type`` names (parameters such as ``charset`` are ignored)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r} is not ingestible; use one of {', '.join(sorted(MEDIA_TYPES))}",
            field="Content-Type",
        )
    return MEDIA_TYPES[media]


SUFFIX_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".arrows": "arrow",
}


def format_of_file(path: Path) -> Format | None:
    """The format a file's suffix names (``.csv``, ``.ndjson``/``.jsonl``, ``.json``, ``.parquet``,
    ``.arrow``/``.arrows``), or None."""
    return SUFFIX_FORMATS.get(path.suffix.lower())


def _reader(fmt: Format, path: Path, known: dict[str, str]) -> str:
    if fmt == "ndjson":
        return f"read_json({sql_literal(path)}, format = 'newline_delimited')"
    if fmt == "json":
        return f"read_json({sql_literal(path)}, format = 'array')"
    return f"read_parquet({sql_literal(path)})"


_SNIFF = (
    "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, Columns, DateFormat, TimestampFormat "
    "FROM sniff_csv(?, header = true)"
)


_ISO_DATE = frozenset({"%Y-%m-%d"})
_ISO_TIMESTAMP = frozenset({"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f"})


def _csv_reader(cur: duckdb.DuckDBPyConnection, path: Path, known: dict[str, str]) -> str:
    """``read_csv`` with the dialect and columns DuckDB's sniffer finds, sniffed once here so that neither the checks
    before the write nor the write sniff again; the dataset's own type wins for each of its columns the file has."""
    row = cur.execute(_SNIFF, [str(path)]).fetchone()
    assert row is not None
    delim, quote, escape, new_line, comment, skip, columns, date_format, timestamp_format = row

    def option(value: Any) -> str:
        return sql_literal("" if value in (None, "(empty)") else str(value))

    types = ", ".join(
        f"{sql_literal(str(c['name']))}: {sql_literal(known.get(str(c['name']), str(c['type'])))}" for c in columns
    )
    options = [
        "auto_detect = false",
        "header = true",
        "strict_mode = true",
        f"delim = {option(delim)}",
        f"quote = {option(quote)}",
        f"escape = {option(escape)}",
        f"new_line = {option(new_line)}",
        f"comment = {option(comment)}",
        f"skip = {int(skip)}",
        f"columns = {{{types}}}",
    ]
    # ISO 8601 is what DuckDB casts natively, and faster than parsing with a format string
    if date_format and date_format not in _ISO_DATE:
        options.append(f"dateformat = {option(date_format)}")
    if timestamp_format and timestamp_format not in _ISO_TIMESTAMP:
        options.append(f"timestampformat = {option(timestamp_format)}")
    return f"read_csv({sql_literal(path)}, {', '.join(options)})"


def _refuse_mixed_types(
    cur: duckdb.DuckDBPyConnection, described: list[tuple[Any, ...]], target: dict[str, str]
) -> None:
    """A JSON column whose values are of different JSON types (a string in one row, an object in another) is refused,
    naming the first row whose type differs from the first row's: stored, every value would be re-encoded as JSON."""
    for column, kind, *_ in described:
        if str(kind) != "JSON" or target.get(str(column)) == "JSON":  # a JSON column of the dataset takes any JSON
            continue
        col = quote(str(column))
        rows = cur.execute(
            f"SELECT json_type({col}) AS t, min(n) FROM (SELECT {col}, row_number() OVER () AS n FROM src) "  # noqa: S608
            f"WHERE {col} IS NOT NULL AND json_type({col}) <> 'NULL' GROUP BY t ORDER BY 2"
        ).fetchall()
        if len(rows) > 1:
            (first, _), (other, row) = rows[0], rows[1]
            names = {"VARCHAR": "string", "BIGINT": "integer", "UBIGINT": "integer", "DOUBLE": "number"}
            a, b = (names.get(str(t), str(t).lower()) for t in (first, other))
            reason = f"column {column!r} holds a {a} in row 1 of its values and, in row {row}, a {b}"
            item = ErrorItem(kind="mixed_types", field=str(column), reason=reason, extra={"row": int(row)})
            raise MixedTypes(f"{reason}: send one type per column", errors=[item])


def _refuse_nul(cur: duckdb.DuckDBPyConnection, described: list[tuple[Any, ...]]) -> None:
    """A text value with a NUL (from a Parquet file or an Arrow stream) is refused, naming its column and row."""
    texts = [str(row[0]) for row in described if str(row[1]) == "VARCHAR"]
    if not texts:
        return
    found = " OR ".join(f"strpos({quote(c)}, chr(0)) > 0" for c in texts)
    row = cur.execute(
        f"SELECT n, [{', '.join(quote(c) for c in texts)}] FROM "  # noqa: S608 (quoted identifiers)
        f"(SELECT *, row_number() OVER () AS n FROM src) WHERE {found} LIMIT 1"
    ).fetchone()
    if row is not None:
        column = next(c for c, v in zip(texts, row[1], strict=True) if v is not None and "\x00" in v)
        reason = f"column {column!r} holds a NUL character in row {row[0]}, which the lake cannot keep"
        item = ErrorItem(kind="nul_character", field=column, reason=reason, extra={"row": int(row[0])})
        raise NulCharacter(reason, errors=[item])


def _line_of(message: str) -> int | None:
    match = _LINE.search(message)
    return int(match.group(1)) if match else None


def _first_bad_json_line(path: Path) -> int | None:
    """The first line of an NDJSON file that is not a JSON value (DuckDB's own count is off by one)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if raw.strip():
                try:
                    json.loads(raw)
                except ValueError:
                    return number
    return None


def _input_error(exc: duckdb.Error, fmt: Format, path: Path) -> Exception:
    message = str(exc).split("\n\n")[0].replace("\n", " ")
    line = _line_of(str(exc))
    if fmt == "ndjson" and "Malformed JSON" in message:
        line = _first_bad_json_line(path) or line
        message = re.sub(r"in line \d+", f"in line {line}", message) if line else message
    extra = {"line": line} if line is not None else {}
    if isinstance(exc, duckdb.ConversionException | duckdb.ConstraintException):
        item = ErrorItem(kind="conversion_failed", field="body", reason=message, extra=extra)
        return ConversionFailed(message, errors=[item])
    item = ErrorItem(kind="malformed_input", field="body", reason=message, extra=extra)
    return MalformedInput(f"the body is not valid {fmt}: {message}", errors=[item])


class Ingestor:
    """Writes files into datasets. One instance per lake; thread-safe (each call has its own cursor)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.datasets = Datasets(lake)

    def ingest_file(
        self,
        name: str,
        path: Path,
        fmt: Format,
        *,
        mode: Mode = "append",
        key: Sequence[str] = (),
        create: bool = False,
        namespace: str | None = None,
        commit_tag: str | None = None,
        progress: Callable[[float], None] | None = None,
        screen: RowScreen | None = None,
    ) -> IngestResult:
        """Ingest ``path``. ``commit_tag`` (an idempotency token) is recorded in the lake commit with the result;
        ``progress`` is called from another thread with DuckDB's percentage of the write while it runs; ``screen``
        checks every row against a schema first (``tables.screen``)."""
        started = time.perf_counter()
        namespace, name = split_name(name, namespace)
        keys = [validate_identifier(k, "key") for k in key]
        if mode == "upsert" and not keys:
            raise InvalidName("mode=upsert needs key=<column>[,<column>]", field="key")
        size = path.stat().st_size
        if size == 0:
            raise EmptyBody("the request body is empty", field="body")
        with self.lake.cursor() as cur, contextlib.ExitStack() as cleanup:
            exists = self.datasets._exists(cur, namespace, name)
            awaiting = not exists and self.datasets.pending(cur, namespace, name) is not None
            if not exists and not create and not awaiting:
                raise DatasetNotFound(f"no dataset {namespace}.{name} (pass create=true to make it)", field="name")
            target = self._columns(cur, namespace, name) if exists else {}
            # with a schema, rows of the wrong type are the screen's to reject, one by one
            described = self._stage(cur, fmt, path, target, cleanup, mixed_types=screen is not None)
            screened = None
            if screen is not None:
                screened = screen_rows(cur, fmt, path, screen, spool_dir(self.lake.settings))
                if screened.replacement is not None:
                    path, fmt = screened.replacement
                    cleanup.callback(path.unlink, missing_ok=True)
                    if screened.rows_rejected == screened.rows:  # nothing passed: nothing is written
                        return IngestResult(
                            namespace=namespace,
                            name=name,
                            mode=mode,
                            rows_written=0,
                            snapshot_id=self.lake.current_snapshot(),
                            bytes_read=size,
                            duration_ms=round((time.perf_counter() - started) * 1000, 2),
                            created=False,
                            screened=screened,
                            schema=screen.label,
                        )
                    described = self._stage(cur, fmt, path, target, cleanup)
            source = self._source_columns(described, fmt)
            missing_keys = [k for k in keys if k not in source]
            if missing_keys:
                raise InvalidName(f"key column {', '.join(missing_keys)} is not in the data", field="key")
            if keys:
                try:  # the first full read of the data: a value that does not convert surfaces here
                    self._check_duplicates(cur, keys)
                except (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.ConstraintException) as exc:
                    raise _input_error(exc, fmt, path) from exc
            changes: list[dict[str, str]] = []
            try:
                if progress is not None:
                    cleanup.enter_context(_reporting(cur, progress))
                with self.lake.write(cur):  # rows are parsed as they are written: a bad one rolls everything back
                    if exists:
                        changes = self._evolve(cur, namespace, name, target, source)
                        rows = self._write(cur, namespace, name, list(source), mode, keys)
                    else:
                        rows = self._create_as(cur, namespace, name)
                        if awaiting:
                            self.datasets.resolve_pending(cur, namespace, name)
                    if commit_tag is not None:
                        summary = {
                            "dataset": f"{namespace}.{name}",
                            "mode": mode,
                            "rows_written": rows,
                            "bytes_read": size,
                            "created": not exists,
                            "schema_changes": changes,
                            **_screen_summary(screen.label if screen else None, screened),
                        }
                        info = json.dumps({"idempotency": commit_tag, "result": summary})
                        cur.execute("CALL lake.set_commit_message('lakehouse', 'ingest', extra_info => ?)", [info])
            except (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.ConstraintException) as exc:
                raise _input_error(exc, fmt, path) from exc
            snapshot = self.lake.current_snapshot()
        return IngestResult(
            namespace=namespace,
            name=name,
            mode=mode,
            rows_written=rows,
            snapshot_id=snapshot,
            bytes_read=size,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            created=not exists,
            schema_changes=changes if exists else [{"change": "created", "column": c} for c in source],
            screened=screened,
            schema=screen.label if screen else None,
        )

    def find_commit(self, commit_tag: str) -> IngestSummary | None:
        """The answer recorded in the commit an ingest tagged with ``commit_tag`` made, if any (its snapshot id is
        the commit's)."""
        with self.lake.cursor() as cur:
            rows = cur.execute(
                "SELECT snapshot_id, commit_extra_info FROM lake.snapshots() "
                "WHERE commit_message = 'ingest' AND commit_extra_info LIKE ? ORDER BY snapshot_id",
                ["%" + commit_tag.rsplit(":", 1)[-1] + "%"],  # the request hash: hex, no LIKE wildcards
            ).fetchall()
        for snapshot_id, extra in rows:
            info = json.loads(extra)
            if info.get("idempotency") == commit_tag:
                recorded = {**info["result"], "snapshot_id": int(snapshot_id), "replayed_from_commit": True}
                return IngestSummary.model_validate(recorded)
        return None

    @staticmethod
    def _columns(cur: duckdb.DuckDBPyConnection, namespace: str, name: str) -> dict[str, str]:
        rows = cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = 'lake' AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [namespace, name],
        ).fetchall()
        return {str(n): str(t) for n, t in rows}

    def _stage(
        self,
        cur: duckdb.DuckDBPyConnection,
        fmt: Format,
        path: Path,
        target: dict[str, str],
        cleanup: contextlib.ExitStack,
        mixed_types: bool = False,
    ) -> list[tuple[Any, ...]]:
        """Make ``src`` (a view over the file) and check that it parses, before anything is written; returns the
        view's DESCRIBE rows."""
        try:
            if fmt == "arrow":
                reader = _reader("parquet", _arrow_as_parquet(path, cleanup), {})
                cur.execute(f"CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM {reader}")  # noqa: S608
            else:
                if fmt in ("ndjson", "json"):  # depth, lone surrogates, NUL, non-finite numbers: before DuckDB parses
                    check_json_file(path, lines=fmt == "ndjson", max_depth=self.lake.settings.server.max_json_depth)
                elif fmt == "csv":
                    check_no_nul(path)
                # our spool path, and names and types quoted as literals
                reader = _csv_reader(cur, path, target) if fmt == "csv" else _reader(fmt, path, target)
                cur.execute(f"CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM {reader}")  # noqa: S608
            described = cur.execute("DESCRIBE SELECT * FROM src").fetchall()  # sniffs: structural errors surface here
            if fmt in ("ndjson", "json") and not mixed_types:
                _refuse_mixed_types(cur, described, target)
            elif fmt in ("parquet", "arrow"):
                _refuse_nul(cur, described)
            return described
        except duckdb.Error as exc:
            raise _input_error(exc, fmt, path) from exc

    @staticmethod
    def _source_columns(described: list[tuple[Any, ...]], fmt: Format) -> dict[str, str]:
        columns: dict[str, str] = {}
        for index, row in enumerate(described):
            name = str(row[0])
            validate_identifier(name, f"columns[{index}]")
            columns[name] = str(row[1])
        if not columns:
            raise MalformedInput(f"the {fmt} body has no columns", field="body")
        return columns

    @staticmethod
    def _check_duplicates(cur: duckdb.DuckDBPyConnection, keys: list[str]) -> None:
        cols = ", ".join(quote(k) for k in keys)
        dupes = cur.execute(
            f"SELECT {cols}, count(*) AS n FROM src GROUP BY ALL HAVING count(*) > 1 LIMIT 5"  # noqa: S608
        ).fetchall()
        if dupes:
            items = [
                ErrorItem(
                    kind="duplicate_key",
                    field=",".join(keys),
                    reason=f"key {dict(zip(keys, row[:-1], strict=True))} appears {row[-1]} times",
                )
                for row in dupes
            ]
            raise DuplicateKey(f"the body repeats {len(dupes)}+ key(s) of {', '.join(keys)}", errors=items)

    @staticmethod
    def _evolve(
        cur: duckdb.DuckDBPyConnection, namespace: str, name: str, target: dict[str, str], source: dict[str, str]
    ) -> list[dict[str, str]]:
        table = _qualified(namespace, name)
        changes: list[dict[str, str]] = []
        mismatches: list[ErrorItem] = []
        for column, incoming in source.items():
            expected = target.get(column)
            if expected is None:
                changes.append({"change": "added", "column": column, "type": incoming})
            elif fits(expected, incoming):
                continue
            elif widens(expected, incoming):
                changes.append({"change": "widened", "column": column, "from": expected, "to": incoming})
            else:
                mismatches.append(
                    ErrorItem(
                        kind="schema_mismatch",
                        field=column,
                        reason=f"column {column} is {expected}; the data has {incoming}",
                        extra={"expected": expected, "got": incoming},
                    )
                )
        if mismatches:
            raise SchemaMismatch(
                f"{len(mismatches)} column(s) do not fit {namespace}.{name}: "
                + ", ".join(str(m.field) for m in mismatches),
                errors=mismatches,
            )
        for change in changes:
            col = quote(change["column"])
            if change["change"] == "added":
                cur.execute(f"ALTER TABLE {table} ADD COLUMN {col} {change['type']}")
            else:
                cur.execute(f"ALTER TABLE {table} ALTER COLUMN {col} SET DATA TYPE {change['to']}")
        return changes

    @staticmethod
    def _write(
        cur: duckdb.DuckDBPyConnection, namespace: str, name: str, columns: list[str], mode: Mode, keys: list[str]
    ) -> int:
        table = _qualified(namespace, name)
        cols = ", ".join(quote(c) for c in columns)
        if mode == "overwrite":
            cur.execute(f"DELETE FROM {table}")  # noqa: S608
        if mode in ("append", "overwrite"):
            row = cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM src").fetchone()  # noqa: S608
            return int(row[0]) if row else 0
        on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in keys)
        updates = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns if c not in keys)
        values = ", ".join(f"s.{quote(c)}" for c in columns)
        matched = f"WHEN MATCHED THEN UPDATE SET {updates} " if updates else ""
        row = cur.execute(
            f"MERGE INTO {table} AS t USING src AS s ON {on} {matched}"  # noqa: S608
            f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})"
        ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _create_as(cur: duckdb.DuckDBPyConnection, namespace: str, name: str) -> int:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS lake.{quote(namespace)}")
        row = cur.execute(f"CREATE TABLE {_qualified(namespace, name)} AS SELECT * FROM src").fetchone()  # noqa: S608
        return int(row[0]) if row else 0  # DuckDB answers CREATE TABLE AS with the rows it wrote
