"""Ingest's schema check (``?schema=``): every row validated before anything is written.

JSON bodies (NDJSON, a JSON array) are checked as the JSON they are, so a schema sees exactly what the client sent;
CSV, Parquet and Arrow rows are checked as DuckDB reads them, each value as JSON (a date as ``"2024-01-31"``, a
timestamp in ISO 8601, a decimal as a number, bytes as base64). A failing row gives the same error items as
``POST /v1/validate``, each with its ``row`` (1-based, the first record is row 1).

``on_error=reject`` refuses the whole body when any row fails (422 ``invalid_payload``, nothing written);
``on_error=skip`` writes the rows that pass, from a file holding only those (NDJSON for JSON bodies, Parquet for
the others), and answers the rejected ones.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from lakehouse.errors import ErrorItem, InvalidPayload
from lakehouse.tables.lake import sql_literal
from lakehouse.tables.spool import new_file

OnError = Literal["reject", "skip"]
_BATCH = 8192


@dataclass
class RowScreen:
    """What ingest checks each row with: ``check(row)`` answers its error items (none when it is valid)."""

    check: Callable[[Any], list[ErrorItem]]
    label: str
    on_error: OnError = "reject"
    max_errors: int = 100


@dataclass
class Screened:
    """The outcome: rows seen and rejected, the rejected rows' items (up to ``max_errors``), and for ``skip`` with
    rejections the file (and its format) holding the rows that pass."""

    rows: int = 0
    rows_rejected: int = 0
    items: list[ErrorItem] = field(default_factory=list)  # the reported items, each with its row
    replacement: tuple[Path, Literal["ndjson", "parquet"]] | None = None

    def record(self, row: int, errors: list[ErrorItem], limit: int) -> None:
        self.rows_rejected += 1
        room = limit - len(self.items)
        self.items.extend(
            ErrorItem(e.kind, e.reason, e.field, e.pointer, {**e.extra, "row": row}) for e in errors[:room]
        )

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """The reported items grouped by row: ``[{"row", "errors": [...]}]``."""
        by_row: dict[int, list[dict[str, Any]]] = {}
        for item in self.items:
            by_row.setdefault(int(item.extra["row"]), []).append(item.to_dict())
        return [{"row": row, "errors": errors} for row, errors in by_row.items()]


def as_json(value: Any) -> Any:
    """A value DuckDB read, as the JSON value a schema checks."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(p, tuple) and len(p) == 2 for p in value):  # a MAP as Arrow hands it over
            return {str(k): as_json(v) for k, v in value}
        return [as_json(v) for v in value]
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    return str(value)


def _json_rows(cur: duckdb.DuckDBPyConnection, fmt: str, path: Path) -> Iterator[str]:
    if fmt == "ndjson":
        with path.open("rb") as handle:
            for raw in handle:
                if raw.strip():
                    yield raw.decode()
        return
    result = cur.execute(f"SELECT json FROM read_json_objects({sql_literal(path)}, format = 'array')")  # noqa: S608
    while rows := result.fetchmany(_BATCH):
        for (text,) in rows:
            yield str(text)


def screen_rows(cur: duckdb.DuckDBPyConnection, fmt: str, path: Path, screen: RowScreen, spool_dir: Path) -> Screened:
    """Check every row of the staged body (``src`` for tabular formats, the file itself for JSON ones)."""
    out = Screened()
    spool_dir.mkdir(parents=True, exist_ok=True)
    keep = screen.on_error == "skip"
    if fmt in ("ndjson", "json"):
        target = new_file(spool_dir, ".screened.ndjson")
        with target.open("w", encoding="utf-8") if keep else contextlib.nullcontext() as sink:
            for text in _json_rows(cur, fmt, path):
                out.rows += 1
                errors = screen.check(json.loads(text))
                if errors:
                    out.record(out.rows, errors, screen.max_errors)
                elif sink is not None:
                    sink.write(text.rstrip("\r\n") + "\n")
        _finish(out, screen, target, "ndjson", keep)
        return out
    import pyarrow as pa
    import pyarrow.parquet

    target = new_file(spool_dir, ".screened.parquet")
    reader = cur.execute("SELECT * FROM src").to_arrow_reader(_BATCH)
    writer = pyarrow.parquet.ParquetWriter(str(target), reader.schema) if keep else None
    try:
        for batch in reader:
            mask = []
            for row in batch.to_pylist():
                out.rows += 1
                errors = screen.check({k: as_json(v) for k, v in row.items()})
                if errors:
                    out.record(out.rows, errors, screen.max_errors)
                mask.append(not errors)
            if writer is not None:
                writer.write_batch(batch.filter(pa.array(mask)))
    finally:
        if writer is not None:
            writer.close()
    _finish(out, screen, target, "parquet", keep)
    return out


def _finish(out: Screened, screen: RowScreen, target: Path, fmt: Literal["ndjson", "parquet"], keep: bool) -> None:
    if out.rows_rejected and keep:
        out.replacement = (target, fmt)
    else:
        target.unlink(missing_ok=True)
    if out.rows_rejected and screen.on_error == "reject":
        raise InvalidPayload(
            f"{out.rows_rejected} of {out.rows} row(s) do not match {screen.label}; nothing was written "
            "(on_error=skip writes the rows that do)",
            errors=out.items,
        )
