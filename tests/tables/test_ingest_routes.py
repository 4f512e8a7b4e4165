"""POST /v1/datasets/{name}/ingest over HTTP: formats, modes, errors in the problem shape, atomicity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lakehouse.tables.datasets import Datasets
from lakehouse.tables.lake import Lake
from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem
from tests.soak import loops
from tests.tables.test_ingest import ROWS, encode

TYPES = {
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}


@pytest.mark.parametrize("fmt", list(TYPES))
def test_ingest_each_format(client: AppClient, fmt: str) -> None:
    response = client.post(
        "/v1/datasets/people/ingest",
        params={"create": "true"},
        content=encode(fmt, ROWS),  # type: ignore[arg-type]
        headers={"content-type": TYPES[fmt]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dataset"] == "main.people" and body["rows_written"] == 2 and body["created"]
    assert body["bytes_read"] > 0 and body["snapshot_id"] >= 1 and body["duration_ms"] >= 0
    assert client.get("/v1/datasets/people").json()["row_count"] == 2


def test_modes_and_schema_changes(client: AppClient) -> None:
    nd = {"content-type": "application/x-ndjson"}
    client.post("/v1/datasets/crm.people/ingest?create=true", content=encode("ndjson", ROWS), headers=nd)
    upsert = client.post(
        "/v1/datasets/crm.people/ingest",
        params={"mode": "upsert", "key": "id"},
        content=b'{"id": 2, "name": "B", "vip": true}\n{"id": 3, "name": "c", "vip": false}\n',
        headers=nd,
    )
    assert upsert.status_code == 200, upsert.text
    assert upsert.json()["schema_changes"] == [{"change": "added", "column": "vip", "type": "BOOLEAN"}]
    described = client.get("/v1/datasets/crm.people").json()
    assert described["row_count"] == 3 and [c["name"] for c in described["columns"]] == ["id", "name", "vip"]
    over = client.post("/v1/datasets/crm.people/ingest?mode=overwrite", content=b'{"id": 7, "name": "x"}\n', headers=nd)
    assert over.json()["rows_written"] == 1 and client.get("/v1/datasets/crm.people").json()["row_count"] == 1


def test_errors_are_problems_and_change_nothing(client: AppClient) -> None:
    nd = {"content-type": "application/x-ndjson"}
    client.post("/v1/datasets/t/ingest?create=true", content=encode("ndjson", ROWS), headers=nd)
    before = client.get("/v1/datasets/t").json()
    cases = [
        ({"content": b"id,name\n1,a\n", "headers": {"content-type": "text/plain"}}, {}, 415, "unsupported_media_type"),
        ({"content": b"", "headers": nd}, {}, 400, "empty_body"),
        ({"content": b'{"id": 1}\n{"id": 2 oops}\n', "headers": nd}, {}, 400, "malformed_input"),
        ({"content": b"id,name\n1,a\nx,b\n", "headers": {"content-type": "text/csv"}}, {}, 422, "conversion_failed"),
        ({"content": b'{"id": "text"}\n', "headers": nd}, {}, 409, "schema_mismatch"),
        (
            {"content": encode("ndjson", ROWS + ROWS), "headers": nd},
            {"mode": "upsert", "key": "id"},
            422,
            "duplicate_key",
        ),
        ({"content": encode("ndjson", ROWS), "headers": nd}, {"mode": "upsert"}, 400, "invalid_name"),
        ({"content": encode("ndjson", ROWS), "headers": nd}, {"mode": "sideways"}, 422, "enum"),
    ]
    for kwargs, params, status, kind in cases:
        body = assert_problem(client.post("/v1/datasets/t/ingest", params=params, **kwargs), status, kind)
        if kind == "malformed_input":
            assert body["errors"][0]["line"] == 2
        if kind == "conversion_failed":
            assert body["errors"][0]["line"] == 3
        if kind == "schema_mismatch":
            assert body["errors"][0] | {"reason": ""} == {
                "kind": "schema_mismatch",
                "field": "id",
                "pointer": "/id",
                "reason": "",
                "expected": "BIGINT",
                "got": "VARCHAR",
            }
    assert_problem(client.post("/v1/datasets/nope/ingest", content=b'{"a": 1}\n', headers=nd), 404, "dataset_not_found")
    assert client.get("/v1/datasets/t").json() == before
    assert client.lakehouse is not None
    spool = client.lakehouse.settings.in_data_dir(client.lakehouse.settings.lake.spool_path)
    assert list(spool.iterdir()) == [], "every spool file is removed"


def test_ingest_size_limit(make_client: Callable[..., AppClient]) -> None:
    client = make_client(lake={"max_ingest_bytes": 64})
    big = b'{"id": 1, "name": "' + b"x" * 100 + b'"}\n'
    response = client.post(
        "/v1/datasets/t/ingest?create=true", content=big, headers={"content-type": "application/x-ndjson"}
    )
    assert_problem(response, 413, "payload_too_large")
    assert client.get("/v1/datasets").json()["items"] == []


def test_read_your_writes_across_two_lakes(client: AppClient, tmp_path: Path) -> None:
    """Every acknowledged ingest is visible at once, here and to another DuckDB attached to the same catalog."""
    assert client.lakehouse is not None
    other = Lake(client.lakehouse.settings)
    try:
        nd = {"content-type": "application/x-ndjson"}
        for i in range(loops(40, 200)):
            line = f'{{"id": {i}}}\n'.encode()
            assert client.post("/v1/datasets/ryw/ingest?create=true", content=line, headers=nd).status_code == 200
            assert Datasets(other).get("ryw").row_count == i + 1
            assert client.get("/v1/datasets/ryw").json()["row_count"] == i + 1
    finally:
        other.close()
