"""The /v1/sql sandbox: escape attempts across every family (each refused, nothing changed), the inventory of every
function the sandboxed engine has, the grants (namespaces, memory by tenant), and answers that name no host path."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import (
    ForbiddenFunction,
    ForbiddenStatement,
    InvalidSql,
    LakehouseError,
    PermissionDenied,
)
from lakehouse.tables.sandbox import Grant, judge
from lakehouse.tables.sql_functions import (
    FUNCTIONS,
    FUNCTIONS_REFUSED,
    INTERNAL_PREFIX,
    TABLE_FUNCTIONS,
    TABLE_FUNCTIONS_REFUSED,
)
from tests.conftest import fresh_pg_database


def _open(data_dir: Path, pg_url: str | None, s3: dict[str, object] | None = None) -> Lakehouse:
    sections: dict[str, object] = {"data_dir": data_dir}
    if pg_url:
        sections["lake"] = {
            "catalog": "postgres",
            "catalog_dsn": pg_url.replace("postgresql+psycopg://", "postgresql://"),
        }
    if s3 is not None:
        lake = dict(sections.get("lake") or {})  # type: ignore[call-overload]
        lake["data_path"] = f"s3://{s3['bucket']}/{s3['prefix']}/lake"
        sections["lake"] = lake
        sections["storage"] = {"s3": s3}
    return Lakehouse(Settings.model_validate(sections))


def _seed(lakehouse: Lakehouse) -> None:
    lakehouse.datasets.create("customers", [{"name": "id", "type": "bigint"}, {"name": "name", "type": "text"}])
    lakehouse.datasets.create("sales.orders", [{"name": "id", "type": "bigint"}, {"name": "total", "type": "double"}])
    with lakehouse.lake.cursor() as cur, lakehouse.lake.write(cur):
        cur.execute("INSERT INTO lake.main.customers VALUES (1, 'ada'), (2, 'bob')")
        # enough rows for Parquet files (small inserts are inlined in the catalog)
        cur.execute("INSERT INTO lake.sales.orders SELECT range, range / 10 FROM range(20000)")
    with lakehouse.lake.cursor() as cur, lakehouse.lake.write(cur):
        cur.execute("INSERT INTO lake.sales.orders SELECT range, range / 10 FROM range(20000, 40000)")
    # Merged and expired by the lake's owner: two files wait in the catalog for deletion, which
    # ducklake_cleanup_old_files would carry out; through the sandbox it must not.
    with lakehouse.lake.cursor() as cur, lakehouse.lake.write(cur):
        cur.execute("CALL ducklake_merge_adjacent_files('lake')")
    with lakehouse.lake.cursor() as cur, lakehouse.lake.write(cur):
        cur.execute("CALL ducklake_expire_snapshots('lake', older_than => now())")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_lh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lakehouse]:
    """One lakehouse per catalog for the tests that must change nothing."""
    with contextlib.ExitStack() as stack:
        pg_url = None
        if request.param == "postgres":
            pg_url = stack.enter_context(fresh_pg_database(request.getfixturevalue("pg_server")))
        with _open(tmp_path_factory.mktemp("sandbox") / "data", pg_url) as lakehouse:
            _seed(lakehouse)
            yield lakehouse


def _lake_files(lakehouse: Lakehouse) -> list[tuple[str, int]]:
    root = lakehouse.settings.data_dir
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file() and p.suffix == ".parquet"
    )


OPSDB = "'{data}/opsdb.sqlite3'"
F, P, S = ForbiddenFunction, PermissionDenied, ForbiddenStatement
ESCAPES: list[tuple[str, type[LakehouseError]]] = [
    # files and URLs
    ("SELECT * FROM read_csv('/etc/passwd')", F),
    ("SELECT * FROM read_csv_auto('/etc/hostname')", F),
    ("SELECT * FROM read_text('/etc/hostname')", F),
    ("SELECT * FROM read_blob('/etc/hostname')", F),
    ("SELECT * FROM read_json('/etc/hostname')", F),
    ("SELECT * FROM read_json_auto('/etc/hostname')", F),
    ("SELECT * FROM read_ndjson_objects('/etc/hostname')", F),
    ("SELECT * FROM read_parquet('/tmp/x.parquet')", F),
    ("SELECT * FROM parquet_scan('{data}/lake/**/*.parquet')", F),
    ("SELECT * FROM parquet_metadata('{data}/lake/**/*.parquet')", F),
    ("SELECT * FROM parquet_kv_metadata('{data}/lake/**/*.parquet')", F),
    ("SELECT * FROM read_duckdb('{data}/x.duckdb')", F),
    ("SELECT * FROM glob('/*')", F),
    ("SELECT * FROM glob('{data}/**')", F),
    ("SELECT * FROM sniff_csv('/etc/passwd')", F),
    ("SELECT * FROM 'https://example.com/data.csv'", P),
    ("SELECT * FROM '/etc/passwd'", P),
    ("SELECT * FROM 'customers.csv'", P),
    ('SELECT * FROM "s3://bucket/x.parquet"', P),
    # other databases, the operational DB among them
    (f"SELECT * FROM sqlite_scan({OPSDB}, 'api_keys')", F),
    (f"SELECT * FROM sqlite_query({OPSDB}, 'SELECT * FROM memories')", F),
    (f"CALL sqlite_attach({OPSDB})", S),
    ("SELECT * FROM sqlite_attach('{data}/opsdb.sqlite3')", F),
    ("SELECT * FROM postgres_scan('host=127.0.0.1 dbname=postgres user=postgres', 'public', 't')", F),
    ("SELECT * FROM postgres_query('__ducklake_metadata_lake', 'SELECT pg_read_file(''/etc/hostname'')')", F),
    ("SELECT * FROM postgres_execute('__ducklake_metadata_lake', 'DROP TABLE ducklake_snapshot')", F),
    ("SELECT * FROM postgres_attach('dbname=postgres')", F),
    ("SELECT * FROM __ducklake_metadata_lake.ducklake_data_file", P),
    ("SELECT * FROM __ducklake_metadata_lake.main.ducklake_snapshot", P),
    # the lake's maintenance and internals
    ("SELECT * FROM ducklake_cleanup_old_files('lake', cleanup_all => true)", F),
    ("SELECT * FROM ducklake_delete_orphaned_files('lake', cleanup_all => true)", F),
    ("SELECT * FROM ducklake_expire_snapshots('lake', versions => [1])", F),
    ("SELECT * FROM ducklake_merge_adjacent_files('lake')", F),
    ("SELECT * FROM ducklake_rewrite_data_files('lake')", F),
    ("SELECT * FROM ducklake_flush_inlined_data('lake')", F),
    ("SELECT * FROM ducklake_add_data_files('lake', 'customers', '/tmp/x.parquet')", F),
    ("SELECT * FROM ducklake_set_option('lake', 'data_inlining_row_limit', 0)", F),
    ("SELECT * FROM ducklake_set_commit_message('lake', 'me', 'msg')", F),
    ("SELECT * FROM ducklake_list_files('lake', 'customers')", F),
    ("SELECT * FROM ducklake_settings('lake')", F),
    ("SELECT * FROM ducklake_options('lake')", F),
    ("SELECT * FROM ducklake_scan('lake')", F),
    ("SELECT * FROM ducklake_snapshots('__ducklake_metadata_lake')", F),
    ("SELECT * FROM ducklake_table_insertions('lake', 'main', 'cust' || 'omers', 0, 1)", F),
    # the engine: settings, databases, secrets, logs
    ("PRAGMA database_list", S),
    ("SELECT * FROM pragma_database_list", P),
    ("SELECT * FROM duckdb_settings()", F),
    ("SELECT * FROM duckdb_databases()", F),
    ("SELECT * FROM duckdb_databases", P),
    ("SELECT * FROM system.main.duckdb_databases", P),
    ("SELECT * FROM pg_catalog.pg_settings", P),
    ("SELECT * FROM pg_settings", P),
    ("SELECT * FROM information_schema.tables", P),
    ("SELECT * FROM sqlite_master", P),
    ("SELECT current_setting('allowed_directories')", F),
    ("SELECT upper(current_setting('memory_limit'))", F),
    ("SELECT * FROM duckdb_secrets()", F),
    ('SELECT * FROM "DuckDB_Secrets"(redact := false)', F),
    ("SELECT * FROM which_secret('s3://bucket/x', 's3')", F),
    ("SELECT * FROM duckdb_extensions()", F),
    ("SELECT * FROM duckdb_functions()", F),
    ("SELECT * FROM duckdb_memory()", F),
    ("SELECT * FROM duckdb_temporary_files()", F),
    ("SELECT * FROM duckdb_logs", P),
    ("SELECT * FROM pragma_table_info('__ducklake_metadata_lake.ducklake_data_file')", F),
    ("SELECT getvariable('x')", F),
    ("SELECT write_log('x')", F),
    ("SELECT json_serialize_plan('SELECT * FROM customers')", F),
    ("SELECT system.main.current_setting('threads')", F),
    ("SELECT lake.main.upper('x')", F),
    ("SELECT * FROM temp.main.t", P),
    ("SELECT * FROM memory.main.api_keys", P),
    # SQL that runs SQL
    ("SELECT * FROM query('SELECT * FROM duckdb_settings()')", F),
    ("SELECT * FROM query_table('__ducklake_metadata_lake.ducklake_data_file')", F),
    ("SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", F),
    ("SELECT * FROM histogram('sales.orders', total)", F),
    # hidden in the statement's structure
    ("WITH x AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM x", F),
    ("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r, glob('/*') WHERE n < 2) SELECT * FROM r", F),
    ("SELECT * FROM customers WHERE name IN (SELECT content FROM read_text('/etc/hostname'))", F),
    ("SELECT (SELECT current_setting('threads')) AS t", F),
    ("SELECT * FROM customers, LATERAL (SELECT * FROM duckdb_settings()) s", F),
    ("SELECT * FROM customers c JOIN sqlite_scan('{data}/opsdb.sqlite3', 'api_keys') k ON true", F),
    ("SELECT 1 UNION ALL SELECT count(*) FROM duckdb_databases()", F),
    ("SELECT * FROM (VALUES (current_setting('threads'))) v(x)", F),
    ("SELECT list_transform([1], x -> current_setting('threads'))", F),
    ("SELECT * FROM customers ORDER BY current_setting('threads')", F),
    ("SELECT sum(id) OVER (ORDER BY current_setting('threads')) FROM customers", F),
    ("SELECT CASE WHEN true THEN current_setting('threads') END", F),
    ("SELECT * FROM customers AT (VERSION => (SELECT count(*) FROM duckdb_settings()))", F),
    ("EXPLAIN SELECT * FROM read_csv('/etc/passwd')", F),
    ("EXPLAIN ANALYZE SELECT * FROM sqlite_scan('{data}/opsdb.sqlite3', 'api_keys')", F),
    ("DESCRIBE SELECT * FROM duckdb_settings()", F),
    ("SUMMARIZE SELECT * FROM duckdb_databases()", F),
    ("SUMMARIZE duckdb_tables", P),
    ("DESCRIBE pragma_database_list", P),
    ("SHOW TABLES", S),
    ("SHOW ALL TABLES", S),
    ("SELECT * FROM (SELECT * FROM (SELECT * FROM glob('/*')))", F),
    ("SELECT * FROM customers PIVOT (count(*) FOR name IN ('ada')) WHERE current_setting('threads') > ''", F),
    # statements that are not reads
    ("SELECT getenv('HOME')", F),
    ("COPY customers TO '/tmp/out.csv'", S),
    ("COPY (SELECT 1) TO '/tmp/out.parquet' (FORMAT parquet)", S),
    ("EXPORT DATABASE '/tmp/export'", S),
    ("ATTACH '/tmp/other.db' AS other", S),
    ("DETACH lake", S),
    ("INSTALL httpfs", S),
    ("LOAD httpfs", S),
    ("SET enable_external_access = true", S),
    ("RESET enable_external_access", S),
    ("SET allowed_directories = ['/']", S),
    ("SET VARIABLE x = 1", S),
    ("PRAGMA enable_profiling", S),
    ("CALL pragma_version()", S),
    ("CALL ducklake_cleanup_old_files('lake', cleanup_all => true)", S),
    ("CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", S),
    ("INSERT INTO customers VALUES (9, 'evil')", S),
    ("UPDATE customers SET name = 'evil'", S),
    ("DELETE FROM customers", S),
    ("DROP TABLE customers", S),
    ("ALTER TABLE customers ADD COLUMN x INT", S),
    ("CREATE TABLE evil AS SELECT 1", S),
    ("CREATE VIEW v AS SELECT 1", S),
    ("CREATE MACRO m() AS 1", S),
    ("TRUNCATE customers", S),
    ("SELECT 1; DROP TABLE customers", S),
    ("SELECT 1; SELECT 2", S),
    ("SELECT 1 /* ; */; DELETE FROM customers -- ", S),
    ("WITH x AS (SELECT 1) DELETE FROM customers", S),
    ("PIVOT customers ON name", S),
    ("CHECKPOINT", S),
    ("VACUUM", S),
    ("BEGIN TRANSACTION", S),
    ("USE memory", S),
    ("SELECT * FROM ducklake_table_changes('lake', 'main', 'customers', 0, 1) WHERE 0; DROP TABLE customers", S),
]


def _sql(lakehouse: Lakehouse, template: str) -> str:
    return template.replace("{data}", str(lakehouse.settings.data_dir))


@pytest.mark.parametrize(("sql", "error"), ESCAPES, ids=[s[:48] for s, _ in ESCAPES])
def test_escapes_are_refused_and_change_nothing(shared_lh: Lakehouse, sql: str, error: type[LakehouseError]) -> None:
    lh = shared_lh
    before = (lh.lake.current_snapshot(), _lake_files(lh))
    assert len(before[1]) >= 3, "the lake has Parquet files, two of them waiting for a cleanup"
    with pytest.raises(error) as raised:
        lh.sql(_sql(lh, sql))
    assert type(raised.value) is error and raised.value.status == 403  # the answer /v1/sql gives: 403 and the kind
    assert raised.value.errors[0].kind == error.kind
    assert str(lh.settings.data_dir) not in raised.value.detail
    assert (lh.lake.current_snapshot(), _lake_files(lh)) == before
    assert lh.sql("SELECT count(*) FROM customers").rows == [[2]]
    assert lh.sql("SELECT count(*) FROM sales.orders").rows == [[40000]]
    assert not Path("/tmp/out.csv").exists() and not Path("/tmp/export").exists()


def test_the_escape_table_is_large() -> None:
    assert len(ESCAPES) >= 80


def test_refusals_name_the_function_and_where_it_is() -> None:
    sql = "SELECT 1 FROM customers, sqlite_scan('x', 'y')"
    with pytest.raises(ForbiddenFunction) as raised:
        judge(sql)
    item = raised.value.errors[0].to_dict()
    assert item["kind"] == "forbidden_function" and "sqlite_scan" in item["reason"]
    assert item["pointer"] == "/sql" and item["ctx"]["position"] == sql.index("sqlite_scan")
    explained = "EXPLAIN ANALYZE SELECT current_setting('x')"
    with pytest.raises(ForbiddenFunction) as raised:
        judge(explained)
    assert raised.value.errors[0].to_dict()["ctx"]["position"] == explained.index("current_setting")
    with pytest.raises(PermissionDenied, match="duckdb_databases"):
        judge("SELECT * FROM duckdb_databases")


def test_what_a_data_user_needs_runs(shared_lh: Lakehouse) -> None:
    lh = shared_lh
    now = lh.lake.current_snapshot()  # older snapshots are expired
    ok = [
        "SELECT * FROM range(3)",
        "SELECT * FROM generate_series(1, 3)",
        "SELECT unnest([1, 2])",
        "SELECT * FROM unnest([1, 2])",
        "SELECT * FROM json_each('{\"a\": 1}')",
        "WITH c AS (SELECT * FROM customers) SELECT count(*) FROM c",
        "WITH duckdb_settings AS (SELECT 1 AS x) SELECT x FROM duckdb_settings",
        "SELECT * FROM lake.main.customers",
        "SELECT * FROM lake.customers",
        "SELECT * FROM lake.sales.orders LIMIT 1",
        f"SELECT * FROM customers AT (VERSION => {now})",
        "SELECT * FROM ducklake_snapshots('lake')",
        "SELECT * FROM ducklake_table_info('lake')",
        "SELECT * FROM ducklake_current_snapshot('lake')",
        f"SELECT * FROM ducklake_table_changes('lake', 'main', 'customers', {now}, {now})",
        f"SELECT * FROM ducklake_table_insertions('lake', 'main', 'customers', {now}, {now})",
        f"SELECT * FROM ducklake_table_deletions('lake', 'sales', 'orders', {now}, {now})",
        "DESCRIBE customers",
        "SUMMARIZE customers",
        "EXPLAIN SELECT * FROM customers",
        "EXPLAIN ANALYZE SELECT count(*) FROM sales.orders",
        "SELECT list_transform([1, 2], x -> x * 2), now() IS NOT NULL, current_date, version()",
        "SELECT name, row_number() OVER (ORDER BY id) FROM customers",
        "SELECT * FROM customers PIVOT (count(*) FOR name IN ('ada', 'bob'))",
        "SELECT 'a' COLLATE nocase = 'A'",
        "FROM customers SELECT name",
    ]
    for sql in ok:
        lh.sql(sql)
    tables = lh.sql("SELECT database_name, schema_name, table_name FROM duckdb_tables() ORDER BY ALL").rows
    assert tables == [["lake", "main", "customers"], ["lake", "sales", "orders"]]
    schemas = {r[0] for r in lh.sql("SELECT database_name FROM duckdb_schemas()").rows}
    assert schemas == {"lake", "memory"}  # the memory catalog's schema: this grant reads memory
    columns = lh.sql("SELECT DISTINCT database_name FROM duckdb_columns() c").rows
    assert columns == [["lake"]]
    assert lh.sql("SELECT count(*) FROM duckdb_views() WHERE database_name <> 'lake'").rows == [[0]]


def _engine_functions(lakehouse: Lakehouse) -> set[tuple[str, str]]:
    engine = lakehouse.queries._current  # the sandboxed instance itself, its extensions loaded
    rows = engine.db.execute("SELECT DISTINCT function_name, function_type FROM duckdb_functions()").fetchall()
    return {(str(name).lower(), str(kind)) for name, kind in rows}


def _unclassified(functions: set[tuple[str, str]]) -> list[str]:
    missing = []
    for name, kind in sorted(functions):
        if kind == "pragma":
            continue  # reachable only through PRAGMA statements, which never pass
        if kind in ("table", "table_macro"):
            if name not in TABLE_FUNCTIONS and name not in TABLE_FUNCTIONS_REFUSED:
                missing.append(f"{kind} {name}")
        elif name not in FUNCTIONS and name not in FUNCTIONS_REFUSED and not name.startswith(INTERNAL_PREFIX):
            missing.append(f"{kind} {name}")
    return missing


def test_every_function_of_the_engine_is_judged(shared_lh: Lakehouse) -> None:
    """A DuckDB or extension upgrade that adds a function fails here until the function is put on a list."""
    functions = _engine_functions(shared_lh)
    assert len(functions) > 900
    assert _unclassified(functions) == []
    assert not FUNCTIONS & set(FUNCTIONS_REFUSED) and not set(TABLE_FUNCTIONS) & TABLE_FUNCTIONS_REFUSED
    assert not {n for n in FUNCTIONS if n.startswith(INTERNAL_PREFIX)}


@pytest.mark.postgres
@pytest.mark.s3
def test_every_function_is_judged_on_postgres_and_s3(
    pg_server: str, s3_settings: dict[str, object], tmp_path: Path
) -> None:
    with fresh_pg_database(pg_server) as url, _open(tmp_path / "data", url, s3_settings) as lh:
        lh.datasets.create("t", [{"name": "id", "type": "bigint"}])
        lh.sql("SELECT count(*) FROM t")
        assert _unclassified(_engine_functions(lh)) == []
        with pytest.raises(ForbiddenFunction):
            lh.sql("SELECT * FROM read_parquet(?)", [s3_settings["prefix"]])
        with pytest.raises(ForbiddenFunction):
            lh.sql("SELECT * FROM glob('s3://" + str(s3_settings["bucket"]) + "/**')")


def test_allowed_macros_call_only_allowed_functions() -> None:
    db = duckdb.connect()
    rows = db.execute(
        "SELECT DISTINCT function_name, macro_definition FROM duckdb_functions() WHERE function_type = 'macro'"
    ).fetchall()
    for name, definition in rows:
        if name.lower() not in FUNCTIONS:
            continue
        tree = json.loads(db.execute("SELECT json_serialize_sql(?)", ["SELECT " + definition]).fetchone()[0])
        assert not tree["error"], name
        judge("SELECT " + definition)  # raises if the body calls a refused function or reads a table


def test_grants_limit_namespaces_and_memory() -> None:
    crm = Grant(namespaces=frozenset({"crm"}), memory="none")
    judge("SELECT * FROM crm.people", crm)
    judge("SELECT * FROM lake.crm.people", crm)
    judge("SELECT * FROM ducklake_table_changes('lake', 'crm', 'people', 0, 1)", crm)
    for sql in [
        "SELECT * FROM customers",
        "SELECT * FROM sales.orders",
        "SELECT * FROM lake.support.tickets",
        "SELECT * FROM crm.people, support.tickets",
        "SELECT * FROM ducklake_table_changes('lake', 'support', 'tickets', 0, 1)",
        "SELECT * FROM ducklake_snapshots('lake')",
        "SELECT * FROM memory.memories",
        "SELECT * FROM memory.main.events",
    ]:
        with pytest.raises(PermissionDenied):
            judge(sql, crm)
    listed = judge("SELECT * FROM duckdb_tables()", crm).sql
    assert "'crm'" in listed and "database_name" in listed
    acme = Grant(memory="tenant", tenant="acme")
    for table in ("memories", "revisions", "events"):
        verdict = judge(f"SELECT * FROM memory.{table} m WHERE m.kind IS NOT NULL OR true", acme)
        assert verdict.reads_memory and "'acme'" in verdict.sql
    quoted = judge("SELECT * FROM memory.memories", Grant(memory="tenant", tenant="o'neil")).sql
    assert "'o''neil'" in quoted
    assert judge("SELECT * FROM memory.memories").sql == "SELECT * FROM memory.memories"  # nothing to rewrite


def test_statement_check_uses_the_parser() -> None:
    judge("SELECT ';' AS semicolon -- DROP TABLE x")
    judge("FROM customers")
    judge("EXPLAIN SELECT 1")
    judge("SELECT 'duckdb_secrets' AS word -- which_secret()")
    with pytest.raises(InvalidSql):
        judge("SELEC 1")


def test_no_answer_names_a_host_path(shared_lh: Lakehouse) -> None:
    lh = shared_lh
    secrets = [str(lh.settings.data_dir), os.path.expanduser("~")]
    if lh.settings.lake.catalog_dsn is not None:
        secrets.append(lh.settings.lake.catalog_dsn.get_secret_value())
    probes = [_sql(lh, sql) for sql, _ in ESCAPES] + [
        "SELECT * FROM customers_missing",
        "SELECT * FROM lake.nowhere.t",
        "SELECT * FROM duckdb_tables()",
        "SELECT * FROM duckdb_columns()",
        "SELECT * FROM ducklake_table_info('lake')",
        "SELECT * FROM ducklake_snapshots('lake')",
        "EXPLAIN ANALYZE SELECT * FROM sales.orders",
        "SELECT current_database(), current_schema(), current_query()",
    ]
    for sql in probes:
        try:
            answer = json.dumps(lh.sql(sql).rows, default=str)
        except LakehouseError as exc:
            answer = json.dumps([exc.detail, [e.to_dict() for e in exc.errors]])
        for secret in secrets:
            assert secret not in answer, (sql, answer)


@pytest.mark.postgres
def test_queries_run_as_a_read_only_catalog_role(pg_url: str, tmp_path: Path) -> None:
    from tests.conftest import read_only_role

    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with _open(tmp_path / "data", pg_url) as lh:
        _seed(lh)
    with read_only_role(pg_url) as reader:
        lake = {"catalog": "postgres", "catalog_dsn": dsn, "query_catalog_dsn": reader}
        with Lakehouse(Settings.model_validate({"data_dir": tmp_path / "data", "lake": lake})) as lh:
            assert lh.sql("SELECT count(*) FROM customers").rows == [[2]]
            before = lh.lake.current_snapshot()
            lh.ingest("customers", b"id,name\n3,cy\n", format="csv")  # writers keep their own role
            assert lh.sql("SELECT count(*) FROM customers").rows == [[3]]  # and queries see their commits
            assert lh.sql("SELECT count(*) FROM customers", snapshot=before).rows == [[2]]
