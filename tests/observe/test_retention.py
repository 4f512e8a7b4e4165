"""Retention that really deletes: `ObserveStore.expire` removes traces older than the cutoff and their scores,
expires the snapshots that could still show them and deletes their files: the content is gone from every table,
from time travel and from the files on disk, while newer traces stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import LakehouseError
from lakehouse.observe import ScoreBatch, SpanBatch


def _span(trace: str, ended: datetime, text: str) -> dict[str, object]:
    return {
        "trace_id": trace,
        "span_id": trace[:16],
        "name": "run",
        "start_time": (ended - timedelta(seconds=1)).isoformat(),
        "end_time": ended.isoformat(),
        "input": text,
    }


def test_expire_removes_old_traces_from_tables_time_travel_and_disk(tmp_path: Path, catalog: str | None) -> None:
    lake = {"catalog": "postgres", "catalog_dsn": catalog.replace("+psycopg", "")} if catalog else {}
    settings = Settings.model_validate({"data_dir": tmp_path / "data", "lake": lake})
    old_marker, new_marker = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    old_trace, new_trace = uuid.uuid4().hex, uuid.uuid4().hex
    now = datetime.now(UTC)
    with Lakehouse(settings) as lh:
        lh.ingest("crm.people", b'{"id": 1}\n', format="ndjson", create=True)  # a dataset beside them
        lh.observe.ingest_batch(
            SpanBatch.model_validate({"spans": [_span(old_trace, now - timedelta(days=40), old_marker)]})
        )
        lh.observe.record_scores(
            ScoreBatch.model_validate({"scores": [{"trace_id": old_trace, "name": "n", "value": old_marker}]})
        )
        kept = lh.observe.ingest_batch(SpanBatch.model_validate({"spans": [_span(new_trace, now, new_marker)]}))
        assert kept.snapshot_id is not None
        before = kept.snapshot_id

        expired = lh.observe.expire(timedelta(days=30))
        assert expired.spans == 1 and expired.scores == 1 and expired.snapshots_expired > 0

        assert lh.sql("SELECT input FROM observe.spans", output="rows") == [(new_marker,)]
        assert lh.sql("SELECT count(*) FROM observe.scores", output="rows") == [(0,)]
        assert lh.sql("SELECT count(*) FROM crm.people", output="rows") == [(1,)]  # other tables untouched
        with pytest.raises(LakehouseError):
            lh.sql(f"SELECT input FROM observe.spans AT (VERSION => {before})")
    files = list((settings.data_dir / "lake" / "data").rglob("*.parquet"))
    for path in files:  # every data file left, read whole: none holds the old content
        rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
        assert old_marker not in repr(rows), path.name
    for path in settings.data_dir.rglob("*"):  # nor any byte of any file (catalog and opsdb included)
        if path.is_file():
            assert old_marker.encode() not in path.read_bytes(), path.name
