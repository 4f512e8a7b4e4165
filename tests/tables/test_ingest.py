"""Ingest into the lake: formats, modes, schema evolution, and atomic refusal of bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest

from lakehouse.errors import (
    ConversionFailed,
    DatasetNotFound,
    DuplicateKey,
    EmptyBody,
    LakehouseError,
    MalformedInput,
    SchemaMismatch,
    UnsupportedMediaType,
)
from lakehouse.tables.ingest import Format, Ingestor, format_for
from lakehouse.tables.lake import Lake


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows(lake: Lake, sql: str) -> list[tuple[object, ...]]:
    with lake.cursor() as cur:
        return cur.execute(sql).fetchall()


ROWS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def encode(fmt: Format, records: list[dict[str, object]]) -> bytes:
    table = pa.Table.from_pylist(records)
    if fmt == "csv":
        cols = list(records[0])
        return ("\n".join([",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in records]) + "\n").encode()
    if fmt == "ndjson":
        return "".join(json.dumps(r) + "\n" for r in records).encode()
    if fmt == "json":
        return json.dumps(records).encode()
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    else:
        with pyarrow.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "json", "parquet", "arrow"])
def test_each_format_creates_and_appends(lake: Lake, tmp_path: Path, fmt: Format) -> None:
    ingestor = Ingestor(lake)
    first = ingestor.ingest_file("people", write(tmp_path, "a", encode(fmt, ROWS)), fmt, create=True)
    assert first.created and first.rows_written == 2 and first.snapshot_id == lake.current_snapshot()
    second = ingestor.ingest_file("people", write(tmp_path, "b", encode(fmt, [{"id": 3, "name": "c"}])), fmt)
    assert not second.created and second.rows_written == 1
    assert rows(lake, "SELECT id, name FROM lake.people ORDER BY id") == [(1, "a"), (2, "b"), (3, "c")]


def test_missing_dataset_without_create(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFound):
        Ingestor(lake).ingest_file("nope", write(tmp_path, "a", encode("ndjson", ROWS)), "ndjson")


def test_overwrite_and_upsert(lake: Lake, tmp_path: Path) -> None:
    ingestor = Ingestor(lake)
    ingestor.ingest_file("p", write(tmp_path, "a", encode("ndjson", ROWS)), "ndjson", create=True)
    changes = [{"id": 2, "name": "B"}, {"id": 9, "name": "z"}]
    result = ingestor.ingest_file(
        "p", write(tmp_path, "b", encode("ndjson", changes)), "ndjson", mode="upsert", key=["id"]
    )
    assert result.rows_written == 2
    assert rows(lake, "SELECT id, name FROM lake.p ORDER BY id") == [(1, "a"), (2, "B"), (9, "z")]
    ingestor.ingest_file(
        "p", write(tmp_path, "c", encode("ndjson", [{"id": 5, "name": "only"}])), "ndjson", mode="overwrite"
    )
    assert rows(lake, "SELECT id, name FROM lake.p") == [(5, "only")]


def test_schema_evolution(lake: Lake, tmp_path: Path) -> None:
    ingestor = Ingestor(lake)
    ingestor.ingest_file(
        "e", write(tmp_path, "a", encode("parquet", [{"id": 1, "score": 1.5}])), "parquet", create=True
    )
    wider = [{"id": 2, "score": 2.5, "tag": "new"}]
    result = ingestor.ingest_file("e", write(tmp_path, "b", encode("parquet", wider)), "parquet")
    assert result.schema_changes == [{"change": "added", "column": "tag", "type": "VARCHAR"}]
    assert rows(lake, "SELECT id, score, tag FROM lake.e ORDER BY id") == [(1, 1.5, None), (2, 2.5, "new")]


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "json", "parquet", "arrow"])
def test_a_body_with_fewer_columns_fills_nulls(lake: Lake, tmp_path: Path, fmt: Format) -> None:
    ingestor = Ingestor(lake)
    ingestor.ingest_file("f", write(tmp_path, "a", encode("ndjson", ROWS)), "ndjson", create=True)
    result = ingestor.ingest_file("f", write(tmp_path, "b", encode(fmt, [{"id": 3}])), fmt)
    assert result.rows_written == 1 and result.schema_changes == []
    assert rows(lake, "SELECT id, name FROM lake.f ORDER BY id") == [(1, "a"), (2, "b"), (3, None)]


def test_arrow_types_a_dataset_cannot_hold(lake: Lake, tmp_path: Path) -> None:
    table = pa.table({"i": pa.array([pa.scalar((1, 2, 3), type=pa.month_day_nano_interval())])})
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    before = lake.current_snapshot()
    with pytest.raises(ConversionFailed, match="cannot hold"):
        Ingestor(lake).ingest_file("iv", write(tmp_path, "iv.arrows", sink.getvalue()), "arrow", create=True)
    assert lake.current_snapshot() == before
    assert not list(tmp_path.glob("*.parquet")), "the staged Parquet file is removed"


def test_csv_dialects_and_date_formats(lake: Lake, tmp_path: Path) -> None:
    """The sniffed dialect and formats carry through to the write: ISO and non-ISO dates, semicolons, quotes."""
    ingestor = Ingestor(lake)
    body = b'id;day;ts;note\n1;01/31/2024;2024-01-31 10:00:00;"a;b"\n2;12/25/2024;2024-12-25T08:30:00.5;c\n'
    ingestor.ingest_file("d", write(tmp_path, "d.csv", body), "csv", create=True)
    got = rows(lake, "SELECT id, day::VARCHAR, ts::VARCHAR, note FROM lake.d ORDER BY id")
    assert got == [(1, "2024-01-31", "2024-01-31 10:00:00", "a;b"), (2, "2024-12-25", "2024-12-25 08:30:00.5", "c")]


def test_progress_is_reported_while_writing(lake: Lake, tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    with source.open("w") as handle:
        handle.write("id,token\n")
        handle.writelines(f"{i},{i * 7919 % 100003:08x}\n" for i in range(400_000))
    seen: list[float] = []
    result = Ingestor(lake).ingest_file("big", source, "csv", create=True, progress=seen.append)
    assert result.rows_written == 400_000
    assert seen and seen[-1] == 100.0 and all(0.0 <= p <= 100.0 for p in seen)
    failed: list[float] = []
    with pytest.raises(ConversionFailed):  # the dataset's BIGINT wins over what the file looks like
        Ingestor(lake).ingest_file(
            "big", write(tmp_path, "bad.csv", b"id\nnot-a-number\n"), "csv", progress=failed.append
        )
    assert 100.0 not in failed


def test_widening_int32_to_int64(lake: Lake, tmp_path: Path) -> None:
    ingestor = Ingestor(lake)
    small = pa.table({"n": pa.array([1], pa.int32())})
    big = pa.table({"n": pa.array([2**40], pa.int64())})
    for name, table in (("a", small), ("b", big)):
        sink = io.BytesIO()
        pq.write_table(table, sink)
        write(tmp_path, name, sink.getvalue())
    ingestor.ingest_file("w", tmp_path / "a", "parquet", create=True)
    result = ingestor.ingest_file("w", tmp_path / "b", "parquet")
    assert result.schema_changes == [{"change": "widened", "column": "n", "from": "INTEGER", "to": "BIGINT"}]
    assert rows(lake, "SELECT n FROM lake.w ORDER BY n") == [(1,), (2**40,)]


def test_json_numbers_fit_decimal_and_double_columns_and_any_list_fits_a_list_column(
    lake: Lake, tmp_path: Path
) -> None:
    """JSON has no decimal type and writes whole numbers as integers: a DECIMAL column takes numbers (rounded to its
    scale), a DOUBLE column whole numbers, and a list column an empty list (which JSON reads as a JSON list)."""
    from decimal import Decimal

    first = pa.table(
        {
            "price": pa.array([Decimal("1.50")], pa.decimal128(10, 2)),
            "weight": pa.array([0.5], pa.float64()),
            "tags": pa.array([["a"]], pa.list_(pa.string())),
        }
    )
    sink = io.BytesIO()
    pq.write_table(first, sink)
    ingestor = Ingestor(lake)
    ingestor.ingest_file("goods", write(tmp_path, "first", sink.getvalue()), "parquet", create=True)
    body = b'{"price": 3, "weight": 2, "tags": []}\n{"price": 12.345, "weight": 7, "tags": ["b", "c"]}\n'
    result = ingestor.ingest_file("goods", write(tmp_path, "more", body), "ndjson")
    assert result.rows_written == 2 and result.schema_changes == []
    got = rows(lake, "SELECT price::VARCHAR, weight, tags FROM lake.goods ORDER BY weight")
    assert got == [("1.50", 0.5, ["a"]), ("3.00", 2.0, []), ("12.35", 7.0, ["b", "c"])]
    with pytest.raises(ConversionFailed):  # past DECIMAL(10,2)'s precision: refused, not truncated
        ingestor.ingest_file("goods", write(tmp_path, "huge", b'{"price": 1e12}\n'), "ndjson")
    with pytest.raises(SchemaMismatch):  # a string is still no number
        ingestor.ingest_file("goods", write(tmp_path, "text", b'{"price": "cheap"}\n'), "ndjson")


def test_refusals_change_nothing(lake: Lake, tmp_path: Path) -> None:
    ingestor = Ingestor(lake)
    ingestor.ingest_file("r", write(tmp_path, "a", encode("ndjson", ROWS)), "ndjson", create=True)
    before = lake.current_snapshot()
    cases: list[tuple[type[LakehouseError], Path, Format, dict[str, object]]] = [
        (SchemaMismatch, write(tmp_path, "m", b'{"id": "not a number", "name": 5}\n'), "ndjson", {}),
        (
            DuplicateKey,
            write(tmp_path, "d", encode("ndjson", ROWS + ROWS)),
            "ndjson",
            {"mode": "upsert", "key": ["id"]},
        ),
        (MalformedInput, write(tmp_path, "j", b'{"id": 1}\n{"id": 2,\n'), "ndjson", {}),
        (ConversionFailed, write(tmp_path, "c", b"id,name\n1,a\nx,b\n"), "csv", {}),
        (MalformedInput, write(tmp_path, "p", encode("parquet", ROWS)[:40]), "parquet", {}),
        (MalformedInput, write(tmp_path, "r", b"not arrow at all"), "arrow", {}),
        (EmptyBody, write(tmp_path, "e", b""), "ndjson", {}),
    ]
    for error, path, fmt, kwargs in cases:
        with pytest.raises(error):
            ingestor.ingest_file("r", path, fmt, **kwargs)  # type: ignore[arg-type]
    assert lake.current_snapshot() == before
    assert rows(lake, "SELECT count(*) FROM lake.r") == [(2,)]


def test_errors_carry_the_line(lake: Lake, tmp_path: Path) -> None:
    ingestor = Ingestor(lake)
    ingestor.ingest_file("l", write(tmp_path, "a", b"id,name\n1,a\n"), "csv", create=True)
    with pytest.raises(ConversionFailed) as info:
        ingestor.ingest_file("l", write(tmp_path, "b", b"id,name\n2,b\n3,c\nfour,d\n"), "csv")
    assert info.value.errors[0].extra["line"] == 4
    with pytest.raises(MalformedInput) as bad:
        ingestor.ingest_file("l", write(tmp_path, "c", b'{"id": 1}\n{"id": 2 oops}\n{"id": 3}\n'), "ndjson")
    assert bad.value.errors[0].extra["line"] == 2


def test_media_types() -> None:
    assert format_for("text/csv; charset=utf-8") == "csv"
    assert format_for("application/vnd.apache.arrow.stream") == "arrow"
    for bad in (None, "", "text/plain", "application/xml"):
        with pytest.raises(UnsupportedMediaType):
            format_for(bad)
