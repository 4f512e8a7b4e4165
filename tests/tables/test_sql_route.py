"""POST /v1/sql over HTTP: results, time travel, scopes, and refusals in the problem shape."""

from __future__ import annotations

from collections.abc import Callable

from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

ND = {"content-type": "application/x-ndjson"}


def test_sql_after_ingest(client: AppClient) -> None:
    first = client.post("/v1/datasets/crm.people/ingest?create=true", content=b'{"id": 1, "name": "ada"}\n', headers=ND)
    snap = first.json()["snapshot_id"]
    client.post("/v1/datasets/crm.people/ingest", content=b'{"id": 2, "name": "bob"}\n', headers=ND)
    body = client.post("/v1/sql", json={"sql": "SELECT id, name FROM crm.people ORDER BY id"}).json()
    assert body["rows"] == [[1, "ada"], [2, "bob"]] and body["row_count"] == 2 and not body["truncated"]
    assert body["columns"] == [{"name": "id", "type": "BIGINT"}, {"name": "name", "type": "VARCHAR"}]
    old = client.post("/v1/sql", json={"sql": "SELECT count(*) AS n FROM crm.people", "snapshot": snap}).json()
    assert old["rows"] == [[1]] and old["snapshot_id"] == snap
    params = client.post("/v1/sql", json={"sql": "SELECT name FROM crm.people WHERE id = ?", "params": [2]}).json()
    assert params["rows"] == [["bob"]]
    capped = client.post("/v1/sql", json={"sql": "SELECT * FROM range(50)", "max_rows": 5}).json()
    assert capped["row_count"] == 5 and capped["truncated"]


def test_values_json_cannot_hold(client: AppClient) -> None:
    sql = "SELECT 'nan'::DOUBLE a, 'inf'::DOUBLE b, '-inf'::FLOAT c, [1.5, 'nan'::DOUBLE] d, 12.50::DECIMAL(10,2) e"
    response = client.post("/v1/sql", json={"sql": sql})
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [["NaN", "Infinity", "-Infinity", [1.5, "NaN"], "12.50"]]
    streamed = client.post("/v1/sql", json={"sql": sql}, headers={"accept": "application/x-ndjson"})
    assert streamed.json() == {"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": [1.5, "NaN"], "e": "12.50"}


def test_sql_refusals(client: AppClient) -> None:
    cases = [
        ({"sql": "DROP TABLE x"}, 403, "forbidden_statement"),
        ({"sql": "SELECT 1; SELECT 2"}, 403, "forbidden_statement"),
        ({"sql": "SELECT * FROM read_csv('/etc/passwd')"}, 403, "forbidden_function"),
        ({"sql": "SELECT * FROM '/etc/passwd'"}, 403, "permission_denied"),
        ({"sql": "SELEC 1"}, 400, "invalid_sql"),
        ({"sql": "SELECT * FROM no_such_table"}, 400, "invalid_sql"),
        ({"sql": "SELECT 1", "snapshot": 1, "as_of": "2026-01-01T00:00:00Z"}, 400, "invalid_sql"),
        ({"sql": "SELECT count(*) FROM range(10000000000)", "timeout_ms": 100}, 408, "query_timeout"),
        ({"sql": "SELECT 1/0::INTEGER + 'x'::INTEGER"}, 422, "query_failed"),
        ({"sql": ""}, 422, "min_length"),
    ]
    for body, status, kind in cases:
        assert_problem(client.post("/v1/sql", json=body), status, kind)


def test_sql_needs_the_sql_scope(make_client: Callable[..., AppClient]) -> None:
    client = make_client(auth={"enabled": True})
    assert client.lakehouse is not None
    reader = {"Authorization": "Bearer " + client.lakehouse.keys.create("r", "read,write").secret}
    analyst = {"Authorization": "Bearer " + client.lakehouse.keys.create("a", "sql").secret}
    assert_problem(client.post("/v1/sql", json={"sql": "SELECT 1"}, headers=reader), 403, "forbidden")
    assert client.post("/v1/sql", json={"sql": "SELECT 1"}, headers=analyst).json()["rows"] == [[1]]


def test_streamed_formats(client: AppClient) -> None:
    import io
    import json

    import pyarrow.csv
    import pyarrow.ipc
    import pyarrow.parquet

    sql = {"sql": "SELECT range AS n, 'v' || range AS s FROM range(25000)"}
    ndjson = client.post("/v1/sql", json=sql, headers={"Accept": "application/x-ndjson"})
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = ndjson.content.decode().splitlines()
    assert len(lines) == 25000 and json.loads(lines[-1]) == {"n": 24999, "s": "v24999"}
    assert int(ndjson.headers["x-lakehouse-snapshot"]) >= 0

    csv = client.post("/v1/sql", json=sql, headers={"Accept": "text/csv"})
    table = pyarrow.csv.read_csv(io.BytesIO(csv.content))
    assert table.num_rows == 25000 and table.column_names == ["n", "s"]

    arrow = client.post("/v1/sql", json=sql, headers={"Accept": "application/vnd.apache.arrow.stream"})
    table = pyarrow.ipc.open_stream(arrow.content).read_all()
    assert table.num_rows == 25000 and table.column("n")[24999].as_py() == 24999

    parquet = client.post("/v1/sql", json=sql, headers={"Accept": "application/vnd.apache.parquet"})
    table = pyarrow.parquet.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 25000 and table.column("s")[0].as_py() == "v0"

    empty = client.post("/v1/sql", json={"sql": "SELECT 1 AS a WHERE false"}, headers={"Accept": "text/csv"})
    assert empty.content.decode().strip() == '"a"'


def test_stream_errors_come_before_the_stream(client: AppClient) -> None:
    ndjson = {"Accept": "application/x-ndjson"}
    assert_problem(client.post("/v1/sql", json={"sql": "DROP TABLE x"}, headers=ndjson), 403, "forbidden_statement")
    assert_problem(
        client.post("/v1/sql", json={"sql": "SELECT 1"}, headers={"Accept": "image/png"}), 406, "not_acceptable"
    )
    assert client.post("/v1/sql", json={"sql": "SELECT 1"}, headers={"Accept": "*/*"}).json()["rows"] == [[1]]


LONG = "SELECT count(*) FROM range(10000000000) a"


def _wait_running(client: AppClient, query_id: str, headers: dict[str, str] | None = None) -> None:
    from tests.waiting import wait_until

    def running() -> bool:
        return any(q["query_id"] == query_id for q in client.get("/v1/queries", headers=headers).json()["items"])

    wait_until(running, f"query {query_id} running")


def test_cancel_a_running_query(client: AppClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.post, "/v1/sql", json={"sql": LONG, "query_id": "long-1", "timeout_ms": 60000})
        _wait_running(client, "long-1")
        running = next(q for q in client.get("/v1/queries").json()["items"] if q["query_id"] == "long-1")
        assert running["sql"] == LONG and running["elapsed_ms"] >= 0 and not running["cancelled"]
        cancelled = client.delete("/v1/queries/long-1")
        assert cancelled.status_code == 202 and cancelled.json() == {"query_id": "long-1", "cancelled": True}
        response = pending.result(timeout=30)
    assert_problem(response, 409, "query_cancelled")
    assert client.get("/v1/queries").json()["items"] == []
    assert_problem(client.delete("/v1/queries/long-1"), 404, "query_not_found")
    after = client.post("/v1/sql", json={"sql": "SELECT 1", "query_id": "long-1"})  # the id is free again
    assert after.status_code == 200 and after.headers["x-lakehouse-query-id"] == "long-1"
    assert after.json()["query_id"] == "long-1"


def test_query_ids(client: AppClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    generated = client.post("/v1/sql", json={"sql": "SELECT 1"})
    assert generated.headers["x-lakehouse-query-id"] == generated.json()["query_id"]
    streamed = client.post("/v1/sql", json={"sql": "SELECT 1", "query_id": "s-1"}, headers={"accept": "text/csv"})
    assert streamed.headers["x-lakehouse-query-id"] == "s-1"
    assert_problem(client.post("/v1/sql", json={"sql": "SELECT 1", "query_id": "bad id!"}), 422, "pattern")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.post, "/v1/sql", json={"sql": LONG, "query_id": "dup", "timeout_ms": 60000})
        _wait_running(client, "dup")
        assert_problem(client.post("/v1/sql", json={"sql": "SELECT 1", "query_id": "dup"}), 409, "query_id_in_use")
        client.delete("/v1/queries/dup")
        assert_problem(pending.result(timeout=30), 409, "query_cancelled")


def test_a_key_sees_and_cancels_only_its_own_queries(make_client: Callable[..., AppClient]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = make_client(auth={"enabled": True})
    assert client.lakehouse is not None
    alice = {"Authorization": "Bearer " + client.lakehouse.keys.create("alice", "sql").secret}
    bob = {"Authorization": "Bearer " + client.lakehouse.keys.create("bob", "sql").secret}
    admin = {"Authorization": "Bearer " + client.lakehouse.keys.create("ops", "admin").secret}
    body = {"sql": LONG, "query_id": "alice-1", "timeout_ms": 60000}
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.post, "/v1/sql", json=body, headers=alice)
        _wait_running(client, "alice-1", alice)
        assert client.get("/v1/queries", headers=bob).json()["items"] == []
        assert_problem(client.delete("/v1/queries/alice-1", headers=bob), 404, "query_not_found")
        assert [q["query_id"] for q in client.get("/v1/queries", headers=admin).json()["items"]] == ["alice-1"]
        assert client.delete("/v1/queries/alice-1", headers=admin).status_code == 202
        assert_problem(pending.result(timeout=30), 409, "query_cancelled")
