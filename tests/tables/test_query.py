"""Read-only SQL: results, time travel, limits, and a table of escape attempts that must all fail."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import ForbiddenStatement, InvalidSql, LakehouseError, PermissionDenied, QueryTimeout
from lakehouse.tables.query import check_statement
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
    with lakehouse.lake.cursor() as cur:
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
    with lh.lake.cursor() as cur:
        cur.execute("INSERT INTO lake.main.customers VALUES (3, 'cy')")
        cur.execute("DELETE FROM lake.sales.orders")
    now = lh.sql("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM sales.orders)")
    assert now.rows == [[3, 0]]
    then = lh.sql("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM sales.orders)", snapshot=before)
    assert then.rows == [[2, 1]] and then.snapshot_id == before
    with pytest.raises(InvalidSql):
        lh.sql("SELECT 1", snapshot=10_000)


def test_read_your_writes(lh: Lakehouse) -> None:
    for i in range(50):
        with lh.lake.cursor() as cur:
            cur.execute("INSERT INTO lake.main.customers VALUES (?, 'x')", [100 + i])
        assert lh.sql("SELECT count(*) FROM customers").rows == [[3 + i]]


def test_timeout_interrupts(lh: Lakehouse) -> None:
    with pytest.raises(QueryTimeout):
        lh.sql("SELECT count(*) FROM range(10000000000) a", timeout_ms=200)
    assert lh.sql("SELECT 1").rows == [[1]]  # the engine is still usable


ESCAPES: list[tuple[str, type[LakehouseError]]] = [
    ("SELECT * FROM read_csv('/etc/passwd')", PermissionDenied),
    ("SELECT * FROM read_csv_auto('/etc/hostname')", PermissionDenied),
    ("SELECT * FROM read_text('/etc/hostname')", PermissionDenied),
    ("SELECT * FROM read_blob('/etc/hostname')", PermissionDenied),
    ("SELECT * FROM read_json('/etc/hostname')", PermissionDenied),
    ("SELECT * FROM read_parquet('/tmp/x.parquet')", PermissionDenied),
    ("SELECT * FROM glob('/*')", PermissionDenied),
    ("SELECT * FROM sniff_csv('/etc/passwd')", PermissionDenied),
    ("SELECT * FROM 'https://example.com/data.csv'", PermissionDenied),
    ("SELECT getenv('HOME')", InvalidSql),
    ("COPY customers TO '/tmp/out.csv'", ForbiddenStatement),
    ("COPY (SELECT 1) TO '/tmp/out.parquet' (FORMAT parquet)", ForbiddenStatement),
    ("EXPORT DATABASE '/tmp/export'", ForbiddenStatement),
    ("ATTACH '/tmp/other.db' AS other", ForbiddenStatement),
    ("DETACH lake", ForbiddenStatement),
    ("INSTALL httpfs", ForbiddenStatement),
    ("LOAD httpfs", ForbiddenStatement),
    ("SET enable_external_access = true", ForbiddenStatement),
    ("RESET enable_external_access", ForbiddenStatement),
    ("SET allowed_directories = ['/']", ForbiddenStatement),
    ("PRAGMA enable_profiling", ForbiddenStatement),
    ("CALL pragma_version()", ForbiddenStatement),
    ("CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", ForbiddenStatement),
    ("INSERT INTO customers VALUES (9, 'evil')", ForbiddenStatement),
    ("UPDATE customers SET name = 'evil'", ForbiddenStatement),
    ("DELETE FROM customers", ForbiddenStatement),
    ("DROP TABLE customers", ForbiddenStatement),
    ("ALTER TABLE customers ADD COLUMN x INT", ForbiddenStatement),
    ("CREATE TABLE evil AS SELECT 1", ForbiddenStatement),
    ("CREATE VIEW v AS SELECT 1", ForbiddenStatement),
    ("CREATE MACRO m() AS 1", ForbiddenStatement),
    ("TRUNCATE customers", ForbiddenStatement),
    ("SELECT 1; DROP TABLE customers", ForbiddenStatement),
    ("SELECT 1; SELECT 2", ForbiddenStatement),
    ("SELECT 1 /* ; */; DELETE FROM customers -- ", ForbiddenStatement),
    ("WITH x AS (SELECT 1) DELETE FROM customers", ForbiddenStatement),
    ("PIVOT customers ON name", ForbiddenStatement),
    ("CHECKPOINT", ForbiddenStatement),
    ("VACUUM", ForbiddenStatement),
    ("BEGIN TRANSACTION", ForbiddenStatement),
    ("USE memory", ForbiddenStatement),
    ("SELECT * FROM query('DROP TABLE customers')", InvalidSql),
    ("SELECT * FROM duckdb_secrets()", PermissionDenied),
    ('SELECT * FROM "DuckDB_Secrets"(redact := false)', PermissionDenied),
    ("SELECT * FROM which_secret('s3://bucket/x', 's3')", PermissionDenied),
    (
        "SELECT * FROM ducklake_table_changes('lake', 'main', 'customers', 0, 1) WHERE 0; DROP TABLE customers",
        ForbiddenStatement,
    ),
]


@pytest.mark.parametrize(("sql", "error"), ESCAPES, ids=[s[:40] for s, _ in ESCAPES])
def test_escapes_are_refused_and_change_nothing(shared_lh: Lakehouse, sql: str, error: type[LakehouseError]) -> None:
    lh = shared_lh
    before = lh.lake.current_snapshot()
    with pytest.raises(error):
        lh.sql(sql)
    assert lh.lake.current_snapshot() == before
    assert lh.sql("SELECT count(*) FROM customers").rows == [[2]]
    assert lh.sql("SELECT current_setting('enable_external_access')").rows == [[False]]
    assert not Path("/tmp/out.csv").exists() and not Path("/tmp/export").exists()


def test_statement_check_uses_the_parser() -> None:
    check_statement("SELECT ';' AS semicolon -- DROP TABLE x")
    check_statement("FROM customers")
    check_statement("EXPLAIN SELECT 1")
    check_statement("SELECT 'duckdb_secrets' AS word -- which_secret()")
    with pytest.raises(InvalidSql):
        check_statement("SELEC 1")


def test_sql_on_a_fresh_lake(tmp_path: Path) -> None:
    """The read path attaches READ_ONLY; a lake nobody has written to yet must still answer."""
    with _open(tmp_path / "fresh", None) as lakehouse:
        assert lakehouse.sql("SELECT 42").rows == [[42]]
