"""Read transactions reused between queries: reuse only while the lake is unchanged, never for SQL that reads the
clock, never after a query that did not end cleanly, and never at the price of a failed query."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import InvalidSql, QueryFailed, QueryTimeout
from lakehouse.tables.lake import LatestSnapshot, open_lake_db
from tests.waiting import wait_until

CONNECTION = "SELECT current_connection_id()"


def _open(data_dir: Path, pg_url: str | None, **lake: Any) -> Lakehouse:
    if pg_url:
        lake |= {"catalog": "postgres", "catalog_dsn": pg_url.replace("postgresql+psycopg://", "postgresql://")}
    return Lakehouse(Settings.model_validate({"data_dir": data_dir, "lake": lake}))


@pytest.fixture
def lh(catalog: str | None, tmp_path: Path) -> Iterator[Lakehouse]:
    with _open(tmp_path / "data", catalog) as lakehouse:
        lakehouse.ingest("people", b"id,name\n1,ada\n2,bob\n", format="csv", create=True)
        yield lakehouse


def _connection(lh: Lakehouse, **options: Any) -> int:
    return int(lh.sql(CONNECTION, **options).rows[0][0])


def test_a_query_on_an_unchanged_lake_reuses_the_last_transaction(lh: Lakehouse) -> None:
    first = _connection(lh)
    assert _connection(lh) == first
    assert lh.sql("SELECT count(*) FROM people").rows == [[2]]
    assert _connection(lh) == first


def test_a_write_moves_the_next_query_to_a_new_transaction_that_sees_it(lh: Lakehouse) -> None:
    first = _connection(lh)
    before = lh.sql("SELECT count(*) FROM people")
    written = lh.ingest("people", b"id,name\n3,cy\n", format="csv")
    after = lh.sql("SELECT count(*) FROM people")
    assert after.rows == [[3]] and after.snapshot_id == written.snapshot_id > before.snapshot_id
    assert _connection(lh) != first


def test_sql_that_reads_the_clock_never_runs_in_a_reused_transaction(lh: Lakehouse) -> None:
    _connection(lh)  # leaves a transaction to reuse
    for clock in ("now()", "current_timestamp", "get_current_timestamp()", "transaction_timestamp()"):
        first = lh.sql(f"SELECT {clock}").rows[0][0]
        time.sleep(0.02)
        assert lh.sql(f"SELECT {clock}").rows[0][0] > first, clock


def test_reuse_ends_with_the_age_limit_and_idle_transactions_are_closed(catalog: str | None, tmp_path: Path) -> None:
    with _open(tmp_path / "data", catalog, query_reuse_ms=200) as lakehouse:
        first = _connection(lakehouse)
        reads = lakehouse.queries._current.reads
        assert reads.idle() == 1
        wait_until(lambda: reads.idle() == 0, "the idle transaction closing after 200 ms")
        assert _connection(lakehouse) != first


def test_reuse_can_be_turned_off(catalog: str | None, tmp_path: Path) -> None:
    with _open(tmp_path / "data", catalog, query_reuse_ms=0) as lakehouse:
        assert _connection(lakehouse) != _connection(lakehouse)
        assert lakehouse.queries._current.reads.idle() == 0


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda lh: lh.sql("SELECT * FROM no_such_table"), id="error"),
        pytest.param(lambda lh: lh.sql("SELECT 1/0::INTEGER, 'x'::INTEGER"), id="runtime-error"),
        pytest.param(lambda lh: lh.sql("SELECT count(*) FROM range(10000000000) a", timeout_ms=100), id="timeout"),
        pytest.param(lambda lh: lh.sql("SELECT * FROM range(100)", max_rows=10), id="truncated"),
        pytest.param(lambda lh: next(lh.queries.stream("SELECT * FROM range(100000)", fmt="csv")[1]), id="stream-cut"),
    ],
)
def test_a_query_that_did_not_end_cleanly_never_lends_its_transaction(lh: Lakehouse, spoil: Any) -> None:
    first = _connection(lh)
    with contextlib.suppress(InvalidSql, QueryFailed, QueryTimeout):
        spoil(lh)  # runs in the idle transaction
    assert _connection(lh) != first  # its connection was closed, not lent again
    assert lh.sql("SELECT name FROM people ORDER BY id").rows == [["ada"], ["bob"]]


def test_results_read_to_the_end_lend_the_transaction_again(lh: Lakehouse) -> None:
    first = _connection(lh)
    assert lh.sql("SELECT * FROM range(10)", max_rows=10).truncated is False
    assert lh.sql("SELECT * FROM people", output="arrow").num_rows == 2
    _, chunks = lh.queries.stream("SELECT * FROM people", fmt="ndjson")
    assert b"".join(chunks).count(b"\n") == 2
    assert _connection(lh) == first


def test_time_travel_engines_reuse_their_transactions(lh: Lakehouse) -> None:
    pinned = lh.sql("SELECT count(*) FROM people").snapshot_id
    lh.ingest("people", b"id,name\n3,cy\n", format="csv")
    first = _connection(lh, snapshot=pinned)
    assert lh.sql("SELECT count(*) FROM people", snapshot=pinned).rows == [[2]]
    assert _connection(lh, snapshot=pinned) == first


@pytest.mark.postgres
def test_a_reused_transaction_whose_catalog_session_died_is_retried_fresh(pg_url: str, tmp_path: Path) -> None:
    """A PostgreSQL restart or a terminated backend under an idle transaction: the next query still answers, and
    closing never aborts the process."""
    with _open(tmp_path / "data", pg_url) as lakehouse:
        lakehouse.ingest("people", b"id,name\n1,ada\n", format="csv", create=True)
        first = _connection(lakehouse)
        database = sa.make_url(pg_url).database
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :db AND state LIKE 'idle in transaction%'"
                ),
                {"db": database},
            ).scalar_one()
        admin.dispose()
        assert killed >= 1
        assert lakehouse.sql("SELECT name FROM people").rows == [["ada"]]
        assert _connection(lakehouse) != first


def test_a_write_by_another_lakehouse_in_the_same_process_is_seen(catalog: str | None, tmp_path: Path) -> None:
    """Two lakehouses on one data dir in one process (as `lakehouse verify` runs two servers): a query after the
    other one's drop, re-create and ingest reads the new rows, not a transaction kept from before."""
    with _open(tmp_path / "data", catalog) as reader, _open(tmp_path / "data", catalog) as writer:
        writer.ingest("people", b"id,name\n1,A\n2,b\n", format="csv", create=True)
        for _ in range(3):
            assert reader.sql("SELECT * FROM people ORDER BY id").rows == [[1, "A"], [2, "b"]]
        writer.datasets.drop("people")
        writer.ingest("people", b'{"id": 1, "name": "once"}\n', format="ndjson", create=True)
        assert reader.sql("SELECT * FROM people").rows == [[1, "once"]]


def test_on_sqlite_the_catalog_is_asked_again_only_after_a_writer_moved_the_change_token(tmp_path: Path) -> None:
    """The cheap check: a commit through a Lake (any process) rewrites the token in the writer lock file, and only
    then is the catalog read again. A commit made around the Lake, straight through DuckDB, moves no token, so the
    answer given before it stands (reuse then ends with the age limit)."""
    settings = Settings.model_validate({"data_dir": tmp_path})
    with Lakehouse(settings) as lh:
        lh.ingest("people", b"id\n1\n", format="csv", create=True)
        latest = LatestSnapshot(settings)
        try:
            first = latest()
            assert first == lh.lake.current_snapshot()
            around = open_lake_db(settings)
            try:
                around.execute("CREATE TABLE lake.main.other (x INTEGER)")
            finally:
                around.close()
            assert latest() == first
            written = lh.ingest("people", b"id\n2\n", format="csv")
            assert latest() == written.snapshot_id == first + 2
        finally:
            latest.close()
