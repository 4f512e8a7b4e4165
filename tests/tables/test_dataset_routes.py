"""The dataset routes over HTTP and through the client, with scopes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lakehouse import Client
from lakehouse.errors import DatasetExists, DatasetNotFound, ForbiddenStatement, InvalidColumnType
from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

COLUMNS = [{"name": "id", "type": "bigint", "nullable": False}, {"name": "email", "type": "text"}]


def test_dataset_lifecycle(client: AppClient) -> None:
    created = client.post("/v1/datasets", json={"name": "crm.customers", "columns": COLUMNS, "description": "d"})
    assert created.status_code == 201
    body = created.json()
    assert (body["namespace"], body["name"], body["row_count"]) == ("crm", "customers", 0)
    assert body["columns"] == [
        {"name": "id", "type": "BIGINT", "nullable": False},
        {"name": "email", "type": "VARCHAR", "nullable": True},
    ]
    assert_problem(
        client.post("/v1/datasets", json={"name": "crm.customers", "columns": COLUMNS}), 409, "dataset_exists"
    )
    bad_type = client.post("/v1/datasets", json={"name": "t", "columns": [{"name": "a", "type": "geometry"}]})
    assert_problem(bad_type, 422, "invalid_column_type")
    assert (
        assert_problem(client.post("/v1/datasets", json={"name": "t", "columns": []}), 422)["errors"][0]["kind"]
        == "min_items"
    )
    assert client.get("/v1/datasets/crm.customers").json()["description"] == "d"
    patched = client.patch("/v1/datasets/crm.customers", json={"name": "clients", "description": "renamed"})
    assert (patched.json()["name"], patched.json()["description"]) == ("clients", "renamed")
    snaps = client.get("/v1/datasets/crm.clients/snapshots").json()["items"]
    assert snaps and all({"id", "time", "operations"} <= set(s) for s in snaps)
    dropped = client.delete("/v1/datasets/crm.clients")
    assert dropped.status_code == 200 and dropped.json()["snapshot_id"] > snaps[-1]["id"]
    assert_problem(client.get("/v1/datasets/crm.clients"), 404, "dataset_not_found")


def test_create_without_columns_then_ingest(client: AppClient) -> None:
    created = client.post("/v1/datasets", json={"name": "crm.leads", "description": "web form"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["state"], body["columns"], body["row_count"]) == ("awaiting_first_ingest", [], 0)
    assert client.get("/v1/datasets").json()["items"] == [{"namespace": "crm", "name": "leads"}]
    ingest = client.post(
        "/v1/datasets/crm.leads/ingest", content=b"id,email\n1,a@x\n", headers={"content-type": "text/csv"}
    )
    assert ingest.status_code == 200, ingest.text
    described = client.get("/v1/datasets/crm.leads").json()
    assert (described["state"], described["row_count"], described["description"]) == ("ready", 1, "web form")
    assert [c["name"] for c in described["columns"]] == ["id", "email"]


def test_dataset_list_pages(client: AppClient) -> None:
    for name in ("b", "a", "c", "z.d"):
        assert client.post("/v1/datasets", json={"name": name, "columns": COLUMNS}).status_code == 201
    seen, cursor = [], None
    while True:
        page = client.get("/v1/datasets", params={"limit": 1, **({"cursor": cursor} if cursor else {})}).json()
        seen += [f"{i['namespace']}.{i['name']}" for i in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert seen == ["main.a", "main.b", "main.c", "z.d"]
    assert client.get("/v1/datasets", params={"namespace": "z"}).json()["items"] == [{"namespace": "z", "name": "d"}]


def test_dataset_scopes(make_client: Callable[..., AppClient]) -> None:
    client = make_client(auth={"enabled": True})
    assert client.lakehouse is not None
    reader = {"Authorization": "Bearer " + client.lakehouse.keys.create("r", "read").secret}
    assert_problem(
        client.post("/v1/datasets", json={"name": "t", "columns": COLUMNS}, headers=reader), 403, "forbidden"
    )
    assert client.get("/v1/datasets", headers=reader).status_code == 200
    assert client.lakehouse.datasets.list() == []


@pytest.mark.e2e
def test_client_retries_with_idempotency_keys(tmp_path: object) -> None:
    from pathlib import Path

    from lakehouse import Lakehouse
    from lakehouse.app import create_app
    from lakehouse.config import Settings
    from lakehouse.errors import IdempotencyConflict
    from lakehouse.verify import ServerThread

    settings = Settings(data_dir=Path(str(tmp_path)))
    with Lakehouse(settings) as lh, ServerThread(create_app(settings, lakehouse=lh)) as server, Client(server.url) as c:
        made = c.datasets.create("leads", idempotency_key="mk")
        assert c.datasets.create("leads", idempotency_key="mk") == made
        rows = b'{"id": 1}\n'
        first = c.ingest("leads", rows, format="ndjson", idempotency_key="in-1")
        assert c.ingest("leads", rows, format="ndjson", idempotency_key="in-1") == first
        with pytest.raises(IdempotencyConflict):
            c.ingest("leads", b'{"id": 2}\n', format="ndjson", idempotency_key="in-1")
        assert c.sql("SELECT count(*) FROM leads").rows == [[1]]
        put = c.blobs.put("docs", "a", b"x", idempotency_key="put-a")
        assert c.blobs.put("docs", "a", b"x", idempotency_key="put-a") == put
        c.blobs.delete("docs", "a", idempotency_key="del-a")
        c.blobs.delete("docs", "a", idempotency_key="del-a")  # the replay, not 404
        assert c.datasets.update("leads", new_name="prospects", idempotency_key="mv").name == "prospects"
        assert c.datasets.update("leads", new_name="prospects", idempotency_key="mv").name == "prospects"
        assert c.datasets.drop("prospects", idempotency_key="rm") == c.datasets.drop("prospects", idempotency_key="rm")


@pytest.mark.e2e
def test_client_cancels_a_query(tmp_path: object) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from lakehouse import Lakehouse
    from lakehouse.app import create_app
    from lakehouse.config import Settings
    from lakehouse.errors import QueryCancelled
    from lakehouse.verify import ServerThread
    from tests.waiting import wait_until

    settings = Settings(data_dir=Path(str(tmp_path)))
    with (
        Lakehouse(settings) as lh,
        ServerThread(create_app(settings, lakehouse=lh)) as server,
        Client(server.url) as c,
        ThreadPoolExecutor(1) as pool,
    ):
        pending = pool.submit(c.sql, "SELECT count(*) FROM range(10000000000) a", query_id="big", timeout_ms=60000)
        wait_until(lambda: any(q.query_id == "big" for q in c.queries()), "the query running")
        assert c.cancel_query("big").model_dump() == {"query_id": "big", "cancelled": True}
        with pytest.raises(QueryCancelled):
            pending.result(timeout=30)


def test_ready_reports_the_lake(client: AppClient) -> None:
    lake = client.get("/ready").json()["checks"]["lake"]
    settings = client.lakehouse.settings
    assert lake["ok"] and lake["catalog"] == settings.lake.catalog
    assert lake["data"] == ("s3" if settings.lake.data_path.startswith("s3://") else "local")


@pytest.mark.e2e
def test_client_datasets(tmp_path: object) -> None:
    from pathlib import Path

    from lakehouse import Lakehouse
    from lakehouse.app import create_app
    from lakehouse.config import Settings
    from lakehouse.verify import ServerThread

    settings = Settings(data_dir=Path(str(tmp_path)))
    with Lakehouse(settings) as lh, ServerThread(create_app(settings, lakehouse=lh)) as server, Client(server.url) as c:
        assert c.datasets.create("orders", COLUMNS, namespace="shop").namespace == "shop"
        with pytest.raises(DatasetExists):
            c.datasets.create("shop.orders", COLUMNS)
        with pytest.raises(InvalidColumnType):
            c.datasets.create("x", [{"name": "a", "type": "nope"}])
        assert [d.name for d in c.datasets.list()] == ["orders"]
        assert c.datasets.update("shop.orders", description="all orders").description == "all orders"
        assert c.datasets.snapshots("shop.orders")
        ingested = c.ingest("shop.orders", b'{"id": 1, "email": "a@x"}\n', format="ndjson")
        assert ingested.rows_written == 1
        csv_path = Path(str(tmp_path)) / "more.csv"
        csv_path.write_bytes(b"id,email\n2,b@x\n")
        assert c.ingest("shop.orders", csv_path, format="csv").rows_written == 1
        assert c.sql("SELECT count(*) FROM shop.orders").rows == [[2]]
        table = c.sql_arrow("SELECT id, email FROM shop.orders ORDER BY id")
        assert table.num_rows == 2 and table.column("email").to_pylist() == ["a@x", "b@x"]
        import pandas as pd

        assert c.ingest("shop.orders", pd.DataFrame({"id": [3], "email": ["c@x"]})).rows_written == 1
        assert c.sql("SELECT email FROM shop.orders WHERE id = 3").rows == [["c@x"]]
        c.ingest(
            "shop.orders", b'{"id": 1, "email": "a@x"}\n{"id": 2, "email": "b@x"}\n', format="ndjson", mode="overwrite"
        )
        ordered = "SELECT id, email FROM shop.orders ORDER BY id"
        assert c.sql(ordered, output="rows") == [(1, "a@x"), (2, "b@x")]
        frame = c.sql(ordered, output="pandas")
        assert list(frame.columns) == ["id", "email"] and frame["id"].tolist() == [1, 2]
        polars_frame = c.sql(ordered, output="polars")
        assert polars_frame.columns == ["id", "email"] and polars_frame["email"].to_list() == ["a@x", "b@x"]
        with pytest.raises(ValueError, match="output must be one of"):
            c.sql(ordered, output="xml")  # type: ignore[arg-type]
        snap = ingested.snapshot_id
        assert c.sql("SELECT count(*) FROM shop.orders", snapshot=snap).rows == [[1]]
        with pytest.raises(ForbiddenStatement):
            c.sql("DROP TABLE shop.orders")
        c.datasets.drop("shop.orders")
        with pytest.raises(DatasetNotFound):
            c.datasets.get("shop.orders")


def test_a_blank_new_name_is_refused_not_ignored(client: AppClient) -> None:
    assert client.post(
        "/v1/datasets", json={"name": "people", "columns": [{"name": "id", "type": "BIGINT"}]}
    ).is_success
    assert_problem(client.patch("/v1/datasets/people", json={"name": ""}), 400, "invalid_name")
    assert client.get("/v1/datasets/people").json()["name"] == "people"
