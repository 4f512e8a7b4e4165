"""validatord over HTTP, the dataset row schema, and ingest with ?schema= (reject leaves the lake as it was)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

ROW = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 1}}}


def test_registry_routes(client: AppClient) -> None:
    created = client.post("/v1/schemas", json={"name": "a.order", "schema": ROW, "description": "d"})
    assert created.status_code == 201 and created.json()["version"] == 1
    same = client.post("/v1/schemas", json={"name": "a.order", "schema": ROW, "description": "d"})
    assert same.status_code == 200 and same.json()["created"] is False
    for name in ("b", "c"):
        client.post("/v1/schemas", json={"name": name, "schema": True})
    first = client.get("/v1/schemas", params={"limit": 2}).json()
    assert [s["name"] for s in first["items"]] == ["a.order", "b"] and first["next"]
    rest = client.get("/v1/schemas", params={"limit": 2, "cursor": first["next"]}).json()
    assert [s["name"] for s in rest["items"]] == ["c"] and rest["next"] is None
    assert client.get("/v1/schemas/a.order").json()["description"] == "d"
    assert client.get("/v1/schemas/a.order/versions/1").json()["schema"] == ROW
    assert_problem(client.get("/v1/schemas/a.order/versions/2"), 404, "schema_not_found")
    retired = client.delete("/v1/schemas/a.order/versions/1")
    assert retired.status_code == 200 and retired.json()["retired_at"]
    assert_problem(client.get("/v1/schemas/a.order"), 410, "schema_retired")
    assert client.get("/v1/schemas/a.order/versions").json()["items"][0]["retired_at"]
    assert_problem(client.post("/v1/schemas", json={"name": "x"}), 422, "validation_failed")
    both = {"name": "x", "schema": {}, "from_dataset": "main.t"}
    assert_problem(client.post("/v1/schemas", json=both), 422, "validation_failed")


def _typed_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2], pa.int32()),
            "price": pa.array([1.5, 2.0]),
            "ok": pa.array([True, False]),
            "day": pa.array([dt.date(2024, 1, 31), None], pa.date32()),
            "at": pa.array([dt.datetime(2024, 1, 31, 10, 0, 0), None], pa.timestamp("us")),
            "tags": pa.array([["a"], []], pa.list_(pa.string())),
            "point": pa.array([{"x": 1.0, "y": 2.0}, None], pa.struct([("x", pa.float64()), ("y", pa.float64())])),
        }
    )


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_dataset_row_schema_round_trips(client: AppClient) -> None:
    """The exported schema accepts the dataset's own rows (as SQL reads them back) and refuses other shapes."""
    parquet = {"content-type": "application/vnd.apache.parquet"}
    body = _parquet(_typed_table())
    assert client.post("/v1/datasets/typed/ingest", params={"create": "true"}, content=body, headers=parquet).is_success
    exported = client.get("/v1/datasets/typed/schema.json")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/schema+json")
    schema: dict[str, Any] = exported.json()
    assert schema["properties"]["id"] == {"type": ["integer", "null"], "minimum": -(2**31), "maximum": 2**31 - 1}
    assert schema["properties"]["day"] == {"type": ["string", "null"], "format": "date"}
    assert schema["properties"]["point"]["properties"]["x"] == {"type": ["number", "null"]}
    registered = client.post("/v1/schemas", json={"name": "typed", "from_dataset": "typed"})
    assert registered.status_code == 201 and registered.json()["schema"] == schema
    ok = {"id": 3, "price": 1, "ok": True, "day": "2024-02-01", "at": "2024-02-01T10:00:00", "tags": [], "point": None}
    assert client.post("/v1/validate", json={"schema": "typed", "payload": ok}).json()["valid"] is True
    bad = {**ok, "id": 2**40, "day": "31/01/2024", "tags": "a", "color": "red"}
    kinds = {
        (e["kind"], e["field"])
        for e in client.post("/v1/validate", json={"schema": "typed", "payload": bad}).json()["errors"]
    }
    assert kinds == {("maximum", "id"), ("format", "day"), ("type", "tags"), ("additional_properties", "color")}
    # ingest with the registered schema takes the same file: every row checks out as DuckDB reads it
    again = client.post("/v1/datasets/typed/ingest", params={"schema": "typed"}, content=body, headers=parquet)
    assert again.status_code == 200 and again.json()["rows_rejected"] == 0 and again.json()["rows_written"] == 2
    assert_problem(client.get("/v1/datasets/missing/schema.json"), 404, "dataset_not_found")


def test_ingest_with_a_schema(client: AppClient) -> None:
    assert client.post("/v1/schemas", json={"name": "row", "schema": ROW}).status_code == 201
    csv = {"content-type": "text/csv"}
    assert client.post("/v1/datasets/t/ingest", params={"create": "true"}, content=b"id\n1\n", headers=csv).is_success
    before = client.get("/v1/datasets/t").json()
    body = b"id\n2\n0\n-4\n5\n"
    refused = assert_problem(
        client.post("/v1/datasets/t/ingest", params={"schema": "row"}, content=body, headers=csv), 422
    )
    assert [(e["kind"], e["row"]) for e in refused["errors"]] == [("minimum", 2), ("minimum", 3)]
    assert client.get("/v1/datasets/t").json()["snapshot_id"] == before["snapshot_id"], "a refused ingest committed"

    params = {"schema": "row@1", "on_error": "skip"}
    headers = {**csv, "Idempotency-Key": "skip-1"}
    done = client.post("/v1/datasets/t/ingest", params=params, content=body, headers=headers)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert (answer["rows_written"], answer["rows_rejected"], answer["schema"]) == (2, 2, "row@1")
    assert [r["row"] for r in answer["rejected"]] == [2, 3]
    replay = client.post("/v1/datasets/t/ingest", params=params, content=body, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true" and replay.json()["rejected"] == answer["rejected"]
    rows = client.post("/v1/sql", json={"sql": "SELECT id FROM t ORDER BY id"}).json()["rows"]
    assert rows == [[1], [2], [5]]

    nothing = client.post("/v1/datasets/t/ingest", params=params, content=b"id\n0\n", headers=csv).json()
    assert nothing["rows_written"] == 0 and nothing["rows_rejected"] == 1
    json_rows = b'[{"id": 7}, {"id": "8"}]'
    mixed = client.post(
        "/v1/datasets/t/ingest", params=params, content=json_rows, headers={"content-type": "application/json"}
    )
    assert mixed.json()["rows_written"] == 1 and mixed.json()["rejected"][0]["errors"][0]["kind"] == "type"
    assert_problem(
        client.post("/v1/datasets/t/ingest", params={"schema": "nope"}, content=body, headers=csv),
        404,
        "schema_not_found",
    )


def test_batch_limits(make_client: Any) -> None:
    client = make_client(validation={"max_batch": 3})
    assert client.post("/v1/validate", json={"schema": True, "payloads": [1, 2, 3]}).json()["count"] == 3
    assert_problem(client.post("/v1/validate", json={"schema": True, "payloads": [1, 2, 3, 4]}), 413, "batch_too_large")
    assert_problem(client.post("/v1/validate", json={"schema": True, "payloads": None}), 422, "validation_failed")
    # a null payload is a payload
    assert client.post("/v1/validate", json={"schema": {"type": "null"}, "payload": None}).json()["valid"] is True
