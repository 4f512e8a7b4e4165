"""Read-only SQL: results, time travel, limits, cancelling (the sandbox's escape table is in test_sandbox.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import (
    ForbiddenFunction,
    InvalidSql,
    QueryCancelled,
    QueryNotFound,
    QueryTimeout,
)
from tests.conftest import fresh_pg_database


def _open(data_dir: Path, pg_url: str | None) -> Lakehouse:
    sections: dict[str, object] = {"data_dir": data_dir}
    if pg_url:
        sections["lake"] = {
            "catalog": "postgres",
            "catalog_dsn": pg_url.replace("postgresql+psycopg://", "postgresql://"),
        }
    return Lakehouse(Settings.model_validate(sections))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def lh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lakehouse]:
    pg_url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    with _open(tmp_path / "data", pg_url) as lakehouse:
        _seed(lakehouse)
        yield lakehouse


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_lh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lakehouse]:
    """One lakehouse per catalog for the tests that must change nothing."""
    with contextlib.ExitStack() as stack:
        pg_url = None
        if request.param == "postgres":
            pg_url = stack.enter_context(fresh_pg_database(request.getfixturevalue("pg_server")))
        with _open(tmp_path_factory.mktemp("shared") / "data", pg_url) as lakehouse:
            _seed(lakehouse)
            yield lakehouse


def _seed(lakehouse: Lakehouse) -> None:
    lakehouse.datasets.create("customers", [{"name": "id", "type": "bigint"}, {"name": "name", "type": "text"}])
    lakehouse.datasets.create(
        "sales.orders", [{"name": "id", "type": "bigint"}, {"name": "total", "type": "decimal(10,2)"}]
    )
    with lakehouse.lake.cursor() as cur, lakehouse.lake.write(cur):
        cur.execute("INSERT INTO lake.main.customers VALUES (1, 'ada'), (2, 'bob')")
        cur.execute("INSERT INTO lake.sales.orders VALUES (1, 9.99)")


def test_select_by_name_and_namespace(lh: Lakehouse) -> None:
    result = lh.sql("SELECT c.name, o.total FROM customers c JOIN sales.orders o USING (id)")
    assert result.columns == [{"name": "name", "type": "VARCHAR"}, {"name": "total", "type": "DECIMAL(10,2)"}]
    assert result.rows == [["ada", "9.99"]] and not result.truncated
    assert result.snapshot_id == lh.lake.current_snapshot()
    assert lh.sql("SELECT name FROM customers WHERE id = ?", [2]).rows == [["bob"]]
    assert lh.sql("SELECT name FROM customers WHERE id = $id", {"id": 1}).rows == [["ada"]]
    assert lh.sql("DESCRIBE customers").rows[0][0] == "id"


def test_max_rows_truncates(lh: Lakehouse) -> None:
    result = lh.sql("SELECT * FROM range(10)", max_rows=3)
    assert len(result.rows) == 3 and result.truncated


def test_time_travel_pins_every_table(lh: Lakehouse) -> None:
    before = lh.lake.current_snapshot()
    with lh.lake.cursor() as cur, lh.lake.write(cur):
        cur.execute("INSERT INTO lake.main.customers VALUES (3, 'cy')")
        cur.execute("DELETE FROM lake.sales.orders")
    now = lh.sql("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM sales.orders)")
    assert now.rows == [[3, 0]]
    then = lh.sql("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM sales.orders)", snapshot=before)
    assert then.rows == [[2, 1]] and then.snapshot_id == before
    with pytest.raises(InvalidSql):
        lh.sql("SELECT 1", snapshot=10_000)


def test_time_travel_to_many_snapshots_at_once(lh: Lakehouse) -> None:
    """More pinned snapshots than the engine cache holds, queried from threads: an engine pushed out of the cache
    is closed only after the queries on it end."""
    from concurrent.futures import ThreadPoolExecutor

    snapshots = []
    for i in range(12):
        with lh.lake.cursor() as cur, lh.lake.write(cur):
            cur.execute("INSERT INTO lake.main.customers VALUES (?, 'x')", [100 + i])
        snapshots.append(lh.lake.current_snapshot())

    def count_at(index: int) -> int:
        sql = "SELECT count(DISTINCT c.id) FROM customers c, range(300000) r WHERE r.range % 7 = 0"
        rows = lh.sql(sql, snapshot=snapshots[index]).rows
        return int(rows[0][0])

    with ThreadPoolExecutor(6) as pool:
        for _ in range(3):
            assert list(pool.map(count_at, range(12))) == [3 + i for i in range(12)]
    assert len(lh.queries._pinned) <= 8


def test_read_your_writes(lh: Lakehouse) -> None:
    for i in range(50):
        with lh.lake.cursor() as cur, lh.lake.write(cur):
            cur.execute("INSERT INTO lake.main.customers VALUES (?, 'x')", [100 + i])
        assert lh.sql("SELECT count(*) FROM customers").rows == [[3 + i]]


def test_outputs(lh: Lakehouse) -> None:
    ordered = "SELECT id, name FROM customers ORDER BY id"
    assert lh.sql(ordered, output="rows") == [(1, "ada"), (2, "bob")]
    table = lh.sql(ordered, output="arrow", max_rows=1)  # every row: max_rows caps JSON results only
    assert table.num_rows == 2 and table.column_names == ["id", "name"]
    assert lh.sql(ordered, output="pandas")["name"].tolist() == ["ada", "bob"]
    assert lh.sql(ordered, output="polars")["id"].to_list() == [1, 2]
    with pytest.raises(ForbiddenFunction):
        lh.sql("SELECT * FROM read_csv('/etc/passwd')", output="arrow")
    with pytest.raises(ValueError, match="output must be one of"):
        lh.sql(ordered, output="xml")


def test_cancel_from_another_thread(lh: Lakehouse) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.waiting import wait_until

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(lh.sql, "SELECT count(*) FROM range(10000000000) a", query_id="q", timeout_ms=60_000)
        wait_until(lambda: lh.queries.running(), "the query running")
        assert [q.id for q in lh.queries.running()] == ["q"]
        with pytest.raises(QueryNotFound):
            lh.queries.cancel("q", owner="someone-else")
        assert lh.queries.cancel("q").cancelled
        with pytest.raises(QueryCancelled):
            pending.result(timeout=30)
    assert lh.queries.running() == []
    with pytest.raises(QueryNotFound):
        lh.queries.cancel("q")


def test_embedded_ingest(lh: Lakehouse, tmp_path: Path) -> None:
    import io

    import pandas as pd
    import polars as pl
    import pyarrow as pa

    assert lh.ingest("leads", b"id,email\n1,a@x\n", format="csv", create=True).rows_written == 1
    assert lh.ingest("leads", io.BytesIO(b'{"id": 2, "email": "b@x"}\n'), format="ndjson").rows_written == 1
    assert lh.ingest("leads", [b'[{"id": 3, ', b'"email": "c@x"}]'], format="json").rows_written == 1
    path = tmp_path / "more.csv"
    path.write_bytes(b"id,email\n4,d@x\n")
    assert lh.ingest("leads", path, format="csv").rows_written == 1
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_bytes(b'{"id": 4, "email": "d2@x"}\n')
    assert lh.ingest("leads", jsonl).rows_written == 1  # the format from the suffix
    assert lh.sql("SELECT count(*) FROM leads WHERE id = 4").rows == [[2]]
    with pytest.raises(ValueError, match=r"format of more\.txt"):
        lh.ingest("leads", tmp_path / "more.txt")
    assert lh.ingest("leads", pa.table({"id": [5], "email": ["e@x"]})).rows_written == 1
    assert lh.ingest("leads", pd.DataFrame({"id": [6], "email": ["f@x"]})).rows_written == 1
    assert lh.ingest("leads", pl.DataFrame({"id": [7], "email": ["g@x"]})).rows_written == 1
    upserted = lh.ingest("leads", pl.DataFrame({"id": [7], "email": ["G@x"]}), mode="upsert", key=["id"])
    assert upserted.rows_written == 1
    assert lh.sql("SELECT count(*), max(email) FILTER (WHERE id = 7) FROM leads").rows == [[8, "G@x"]]
    with pytest.raises(ValueError, match="format"):
        lh.ingest("leads", b"id\n1\n")
    spool = lh.settings.in_data_dir(lh.settings.lake.spool_path)
    assert not any(spool.iterdir()), "spool files are removed"


def test_timeout_interrupts(lh: Lakehouse) -> None:
    with pytest.raises(QueryTimeout):
        lh.sql("SELECT count(*) FROM range(10000000000) a", timeout_ms=200)
    assert lh.sql("SELECT 1").rows == [[1]]  # the engine is still usable


def test_a_deadline_that_passes_before_the_query_starts_still_stops_it(
    lh: Lakehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a loaded machine the time can run out after the transaction opened and before DuckDB starts the query;
    DuckDB drops an interrupt that reaches an idle connection, so one interrupt let the query run unbounded. The
    watchdog now interrupts again until the query is over. (The pause after ``begin`` stands for the load.)"""
    from lakehouse.tables.read_pool import Lease

    opened = Lease.begin

    def slow_begin(self: Lease) -> int:
        snapshot = opened(self)
        time.sleep(0.3)  # the 50 ms limit runs out here, before the query starts
        return snapshot

    monkeypatch.setattr(Lease, "begin", slow_begin)
    with pytest.raises(QueryTimeout):
        lh.sql("SELECT count(*) FROM range(1000000000000) a", timeout_ms=50)
    monkeypatch.undo()
    assert lh.sql("SELECT 1").rows == [[1]]


def test_sql_on_a_fresh_lake(tmp_path: Path) -> None:
    """The read path attaches READ_ONLY; a lake nobody has written to yet must still answer."""
    with _open(tmp_path / "fresh", None) as lakehouse:
        assert lakehouse.sql("SELECT 42").rows == [[42]]
