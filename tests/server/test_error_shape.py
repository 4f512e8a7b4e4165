"""Every error from every route is the one problem+json shape (walked from the OpenAPI document)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema_rs
import pytest

from lakehouse.errors import PROBLEM_CONTENT_TYPE
from lakehouse.server.problems import PROBLEM_SCHEMA
from tests.asgi import AppClient

PROBLEM_VALIDATOR = jsonschema_rs.validator_for(PROBLEM_SCHEMA, offline=True)

PROBLEM_KEYS = {"type", "title", "status", "detail", "request_id", "errors"}
ITEM_KEYS = {"kind", "field", "pointer", "reason"}
ITEM_EXTRAS = {
    "line",
    "expected",
    "got",
    "current_version",
    "cycle",
    "ctx",
    "index",
    "row",
}  # optional members, documented in docs/wire-format.md


def assert_problem(response: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
    body: dict[str, Any] = response.json()
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in PROBLEM_VALIDATOR.iter_errors(body)]
    assert not errors, f"the body breaks problem.schema.json: {errors}"
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("urn:lakehouse:problem:")
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["errors"], "a problem has at least one error item"
    for item in body["errors"]:
        assert set(item) >= ITEM_KEYS and set(item) - ITEM_KEYS <= ITEM_EXTRAS
        assert re.fullmatch(r"[a-z_]+", item["kind"])
        assert item["pointer"] == "" or item["pointer"].startswith("/")
    if kind is not None:
        assert body["errors"][0]["kind"] == kind
        assert body["type"].endswith(":" + kind) or body["status"] == 422
    return body


def _operations(client: AppClient) -> list[tuple[str, str]]:
    spec = client.app.openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


def _fill(path: str, **values: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "x-missing-value"), path)


def test_openapi_lists_every_route(client: AppClient) -> None:
    ops = set(_operations(client))
    assert ("PUT", "/v1/blobs/{bucket}/{key}") in ops
    assert ("GET", "/health") in ops
    assert ("POST", "/v1/keys") in ops


def test_every_v1_route_without_a_key_is_a_401_problem(make_client: Callable[..., AppClient]) -> None:
    client = make_client(auth={"enabled": True})
    v1 = [(m, p) for m, p in _operations(client) if p.startswith("/v1/")]
    assert len(v1) >= 8
    for method, path in v1:
        response = client.request(method, _fill(path, bucket="bkt", key="a/b", name="k"))
        if method == "HEAD":
            assert response.status_code == 401
            continue
        body = assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization" not in body["detail"] or "Bearer" in body["detail"]


def test_every_route_answers_bad_input_with_a_problem(client: AppClient) -> None:
    """Each route given something it must refuse (a bad name, a bad query, a bad body) says so in the shape."""
    bad_requests = {
        ("PUT", "/v1/blobs/{bucket}/{key}"): ({"bucket": "bkt", "key": "a/%2E%2E/b"}, {"content": b"x"}, 400),
        ("GET", "/v1/blobs/{bucket}/{key}"): ({"bucket": "bkt", "key": "missing"}, {}, 404),
        ("DELETE", "/v1/blobs/{bucket}/{key}"): ({"bucket": "bkt", "key": "missing"}, {}, 404),
        ("GET", "/v1/blobs/{bucket}"): ({"bucket": "BAD_BUCKET"}, {}, 400),
        ("POST", "/v1/keys"): ({}, {"json": {"name": "", "scopes": []}}, 422),
        ("GET", "/v1/keys"): ({}, {"params": {"limit": "many"}}, 422),
        ("DELETE", "/v1/keys/{name}"): ({"name": "nobody"}, {}, 404),
        ("GET", "/v1/stack"): ({}, {}, 404),  # not a stack's gateway
        ("POST", "/v1/stack/restart"): ({}, {"json": {"service": "nosuchd"}}, 422),
        ("POST", "/v1/datasets"): ({}, {"json": {"name": "Bad Name", "columns": [{"name": "a", "type": "int"}]}}, 400),
        ("GET", "/v1/datasets"): ({}, {"params": {"namespace": "NOT-VALID"}}, 400),
        ("GET", "/v1/datasets/{name}"): ({"name": "missing"}, {}, 404),
        ("PATCH", "/v1/datasets/{name}"): ({"name": "missing"}, {"json": {"description": "x"}}, 404),
        ("DELETE", "/v1/datasets/{name}"): ({"name": "missing"}, {}, 404),
        ("GET", "/v1/datasets/{name}/snapshots"): ({"name": "x;drop"}, {}, 400),
        ("POST", "/v1/sql"): ({}, {"json": {"sql": "DELETE FROM t"}}, 403),
        ("DELETE", "/v1/queries/{query_id}"): ({"query_id": "not-running"}, {}, 404),
        ("GET", "/v1/queries"): None,  # takes no input
        ("POST", "/v1/embed"): ({}, {"json": {"texts": []}}, 422),
        ("GET", "/v1/embed/models"): None,  # takes no input
        ("POST", "/v1/collections"): ({}, {"json": {"name": "c", "dim": 0}}, 422),
        ("GET", "/v1/collections"): ({}, {"params": {"cursor": "not-ours"}}, 400),
        ("GET", "/v1/collections/{name}"): ({"name": "missing"}, {}, 404),
        ("DELETE", "/v1/collections/{name}"): ({"name": "missing"}, {}, 404),
        ("POST", "/v1/collections/{name}/upsert"): ({"name": "missing"}, {"json": {"points": []}}, 404),
        ("GET", "/v1/collections/{name}/points/{point_id}"): ({"name": "missing", "point_id": "p"}, {}, 404),
        ("POST", "/v1/collections/{name}/delete"): ({"name": "missing"}, {"json": {"ids": ["p"]}}, 404),
        ("POST", "/v1/collections/{name}/search"): ({"name": "missing"}, {"json": {"vector": [1]}}, 404),
        ("POST", "/v1/memories"): ({}, {"json": {"scope": {"tenant": "t"}, "content": ""}}, 422),
        ("POST", "/v1/pathways"): ({}, {"json": {"scope": {"tenant": "t"}, "summary": "s", "steps": [{}]}}, 422),
        ("GET", "/v1/pathways"): ({}, {"params": {"tenant": ""}}, 422),
        ("GET", "/v1/pathways/{pathway_id}"): ({"pathway_id": "p"}, {"params": {"tenant": "t"}}, 404),
        ("POST", "/v1/pathways/{pathway_id}/steps"): (
            {"pathway_id": "p"},
            {"json": {"scope": {"tenant": "t"}, "steps": [{"action": "a"}]}},
            404,
        ),
        ("POST", "/v1/pathways/{pathway_id}/end"): (
            {"pathway_id": "p"},
            {"json": {"scope": {"tenant": "t"}, "outcome": "maybe"}},
            422,
        ),
        ("POST", "/v1/pathways/{pathway_id}/steps/{step_id}/retire"): (
            {"pathway_id": "p", "step_id": "s1"},
            {"json": {"scope": {"tenant": "t"}, "reason": "r"}},
            404,
        ),
        ("POST", "/v1/playbooks"): (
            {},
            {"json": {"scope": {"tenant": "t"}, "name": "n", "trigger": "t", "sources": []}},
            422,
        ),
        ("POST", "/v1/playbooks/search"): ({}, {"json": {"scope": {"tenant": "t"}, "task": ""}}, 422),
        ("GET", "/v1/playbooks/{playbook_id}"): ({"playbook_id": "p"}, {"params": {"tenant": "t"}}, 404),
        ("POST", "/v1/playbooks/{playbook_id}/uses"): (
            {"playbook_id": "p"},
            {"json": {"scope": {"tenant": "t"}, "outcome": "success"}},
            404,
        ),
        ("POST", "/v1/memories/search"): ({}, {"json": {"scope": {"tenant": "t"}, "query": "x", "k": 0}}, 422),
        ("GET", "/v1/memories"): ({}, {"params": {"user_id": "u"}}, 422),
        ("GET", "/v1/memories/{memory_id}"): ({"memory_id": "m"}, {"params": {"tenant": "t"}}, 404),
        ("GET", "/v1/memories/{memory_id}/history"): ({"memory_id": "m"}, {"params": {"tenant": "t"}}, 404),
        ("PATCH", "/v1/memories/{memory_id}"): ({"memory_id": "m"}, {"json": {"scope": {"tenant": "t"}}}, 422),
        ("POST", "/v1/memories/{memory_id}/revise"): ({"memory_id": "m"}, {"json": {"scope": {}}}, 422),
        ("POST", "/v1/memories/{memory_id}/retire"): (
            {"memory_id": "m"},
            {"json": {"scope": {"tenant": "t"}, "reason": "r"}},
            404,
        ),
        ("POST", "/v1/memories/{memory_id}/restore"): ({"memory_id": "m"}, {"json": {"scope": {"tenant": "t"}}}, 404),
        ("POST", "/v1/memories/{memory_id}/forget"): ({"memory_id": "m"}, {"json": {"scope": {"tenant": "t"}}}, 422),
        ("POST", "/v1/datasets/{name}/ingest"): (
            {"name": "t"},
            {"content": b"a", "headers": {"content-type": "x/y"}},
            415,
        ),
        ("POST", "/v1/schemas"): ({}, {"json": {"name": "s", "schema": {"type": "nonsense"}}}, 422),
        ("GET", "/v1/schemas"): ({}, {"params": {"cursor": "not-ours"}}, 400),
        ("GET", "/v1/schemas/{name}"): ({"name": "missing"}, {}, 404),
        ("GET", "/v1/schemas/{name}/versions"): ({"name": "missing"}, {}, 404),
        ("GET", "/v1/schemas/{name}/versions/{version}"): ({"name": "missing", "version": "1"}, {}, 404),
        ("DELETE", "/v1/schemas/{name}/versions/{version}"): ({"name": "missing", "version": "0"}, {}, 422),
        ("POST", "/v1/validate"): ({}, {"json": {"schema": "missing", "payload": {}}}, 404),
        ("GET", "/v1/datasets/{name}/schema.json"): ({"name": "missing"}, {}, 404),
        ("POST", "/v1/traces"): (
            {},
            {"content": b"\x0a\xff\xff", "headers": {"content-type": "application/x-protobuf"}},
            400,
        ),
        ("GET", "/v1/traces"): ({}, {"params": {"limit": "0"}}, 422),
        ("GET", "/v1/traces/{trace_id}"): ({"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}, {}, 404),
        ("GET", "/v1/sessions/{session_id}"): ({"session_id": "nobody"}, {}, 404),
        ("POST", "/v1/observe/spans"): ({}, {"json": {"spans": []}}, 422),
        ("POST", "/v1/observe/scores"): ({}, {"json": {"scores": [{"trace_id": "x", "name": "n", "value": 1}]}}, 422),
        ("GET", "/health"): None,
        ("GET", "/ready"): None,
        ("GET", "/metrics"): None,
        ("HEAD", "/v1/blobs/{bucket}/{key}"): None,  # no body on HEAD; status checked below
    }
    ops = set(_operations(client))
    assert ops == set(bad_requests), "a route was added: give it a bad-input case here"
    for (method, path), case in bad_requests.items():
        if case is None:
            continue
        values, kwargs, status = case
        assert_problem(client.request(method, _fill(path, **values), **kwargs), status)
    assert client.head("/v1/blobs/bkt/missing").status_code == 404


def test_unknown_route_and_wrong_method(client: AppClient) -> None:
    assert_problem(client.get("/nope"), 404, "route_not_found")
    assert_problem(client.get("/v1/blobs"), 404, "route_not_found")
    response = client.post("/health")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


def test_validation_errors_name_the_field(client: AppClient) -> None:
    body = assert_problem(client.post("/v1/keys", json={"scopes": ["read"], "extra": 1}), 422)
    kinds = {(i["kind"], i["field"], i["pointer"]) for i in body["errors"]}
    assert ("required", "name", "/name") in kinds
    assert ("additional_properties", "extra", "/extra") in kinds
    body = assert_problem(client.post("/v1/keys", json={"name": "k", "scopes": "read"}), 422)
    assert body["errors"][0]["kind"] == "type"


def test_invalid_json_is_400(client: AppClient) -> None:
    response = client.post("/v1/keys", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(response, 400, "invalid_json")


def test_conflict_is_409(client: AppClient) -> None:
    assert client.post("/v1/keys", json={"name": "dup", "scopes": ["read"]}).status_code == 201
    assert_problem(client.post("/v1/keys", json={"name": "dup", "scopes": ["read"]}), 409, "api_key_exists")


def test_body_too_large_is_413(make_client: Callable[..., AppClient]) -> None:
    client = make_client(server={"max_body_bytes": 100}, storage={"max_blob_bytes": 1000})
    big_json = {"name": "k" * 50, "scopes": ["read"] * 20}
    assert_problem(client.post("/v1/keys", json=big_json), 413, "payload_too_large")

    def stream() -> Any:
        for _ in range(10):
            yield b"x" * 200

    # no Content-Length: the limit holds while the body streams, and nothing is stored
    assert_problem(client.put("/v1/blobs/bkt/big", content=_aiter(stream())), 413, "payload_too_large")
    assert_problem(client.put("/v1/blobs/bkt/big", content=b"x" * 1001), 413, "payload_too_large")
    assert client.head("/v1/blobs/bkt/big").status_code == 404
    assert client.put("/v1/blobs/bkt/small", content=b"x" * 1000).status_code == 201


async def _aiter(it: Any) -> Any:
    for chunk in it:
        yield chunk


def test_range_not_satisfiable_is_416(client: AppClient) -> None:
    client.put("/v1/blobs/bkt/r", content=b"0123456789")
    response = client.get("/v1/blobs/bkt/r", headers={"Range": "bytes=50-60"})
    assert_problem(response, 416, "range_not_satisfiable")
    assert response.headers["content-range"] == "bytes */10"


def test_internal_error_is_a_bare_500_and_logged(client: AppClient, caplog: pytest.LogCaptureFixture) -> None:
    def explode() -> None:
        raise RuntimeError("secret internal detail lh_abcdefghijklmnop")

    client.app.add_api_route("/v1/explode", explode)
    with caplog.at_level(logging.ERROR, logger="lakehouse.error"):
        response = client.get("/v1/explode", headers={"X-Request-ID": "boom-1"})
    body = assert_problem(response, 500, "internal")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["request_id"] == "boom-1"
    record = next(r for r in caplog.records if r.name == "lakehouse.error")
    assert record.exc_info is not None and "RuntimeError" in caplog.text


def test_store_unavailable_is_503(client: AppClient, tmp_path: Any) -> None:
    import sqlalchemy as sa

    assert client.lakehouse is not None
    client.lakehouse.opsdb = sa.create_engine(f"sqlite:///{tmp_path}/no/such/dir/x.sqlite3")
    body = assert_problem(client.get("/ready"), 503, "store_unavailable")
    assert body["errors"][0]["field"] == "opsdb"


def test_openapi_documents_the_problem_body(client: AppClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert set(spec["components"]["schemas"]["Problem"]["required"]) == PROBLEM_KEYS
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status == "default" or status.startswith(("4", "5")):
                    assert list(response["content"]) == [PROBLEM_CONTENT_TYPE], (method, path, status)
            assert "default" in operation["responses"], (method, path)


def test_error_bodies_match_the_documented_schema(client: AppClient) -> None:
    from lakehouse.server.problems import Problem

    for response in (
        client.get("/nope"),
        client.post("/v1/keys", json={}),
        client.put("/v1/blobs/bkt/a//b", content=b"x"),
        client.post("/health"),
    ):
        Problem.model_validate_json(response.content, strict=True)
