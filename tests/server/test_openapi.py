"""The OpenAPI document is a contract: every request body, parameter and 2xx answer of every operation has a
schema, JSON bodies carry an example, operation ids are unique, and every ``$ref`` resolves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakehouse.app import create_app
from lakehouse.config import Settings

NO_BODY = {"204"}  # statuses whose answer has no body by definition


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = create_app(Settings.model_validate({"data_dir": tmp_path_factory.mktemp("openapi") / "data"}))
    document: dict[str, Any] = app.openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def _typed(schema: dict[str, Any] | None) -> bool:
    """Whether a schema says something: a model, properties, a union, a typed list, a string (text or binary). A
    bare object (``dict[str, Any]``) or ``{}`` says nothing."""
    if not schema:
        return False
    if any(key in schema for key in ("$ref", "properties", "anyOf", "oneOf", "const")):
        return True
    if schema.get("type") == "array":
        return _typed(schema.get("items"))
    if schema.get("type") == "object":
        return schema.get("additionalProperties") not in (None, True, {})
    return schema.get("type") in ("string", "integer", "number", "boolean")


def problems_of(spec: dict[str, Any]) -> list[str]:
    """Everything the document leaves untyped, unexampled or dangling, one line each."""
    found: list[str] = []
    components = spec.get("components", {}).get("schemas", {})
    ids: dict[str, str] = {}
    for method, path, op in _operations(spec):
        where = f"{method} {path}"
        op_id = op.get("operationId", "")
        if op_id in ids:
            found.append(f"{where}: operation id {op_id} also names {ids[op_id]}")
        ids[op_id] = where
        for param in op.get("parameters", []):
            if not param.get("schema"):
                found.append(f"{where}: parameter {param.get('name')} has no schema")
        body = op.get("requestBody")
        for media, content in (body or {}).get("content", {}).items():
            schema = content.get("schema")
            if not _typed(schema):
                found.append(f"{where}: body {media} has no schema")
                continue
            if media == "application/json":
                named = components.get(str(schema.get("$ref", "")).rsplit("/", 1)[-1], {})
                if not (content.get("example") or content.get("examples") or named.get("examples")):
                    found.append(f"{where}: JSON body has no example")
        answers = [status for status in op.get("responses", {}) if status.startswith("2")]
        if not answers:
            found.append(f"{where}: no 2xx answer")
        for status in answers:
            contents = op["responses"][status].get("content")
            if not contents:
                if status not in NO_BODY and method != "HEAD":
                    found.append(f"{where}: {status} has no content")
                continue
            for media, content in contents.items():
                if not _typed(content.get("schema")):
                    found.append(f"{where}: {status} {media} has no schema")
    found += [f"dangling $ref {ref}" for ref in _refs(spec) if ref.rsplit("/", 1)[-1] not in components]
    return found


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return own.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_every_operation_is_typed_and_exampled(spec: dict[str, Any]) -> None:
    assert len(_operations(spec)) >= 59
    assert problems_of(spec) == []


def test_the_walk_finds_what_is_missing(spec: dict[str, Any]) -> None:
    broken = {
        "paths": {
            "/x": {
                "post": {
                    "operationId": "a",
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}},
                    "responses": {"200": {"content": {"application/json": {"schema": {"type": "object"}}}}},
                },
                "get": {"operationId": "a", "parameters": [{"name": "q"}], "responses": {"404": {}}},
            }
        },
        "components": {"schemas": {}},
    }
    found = problems_of(broken)
    assert any("JSON body has no example" in p for p in found)
    assert any("200 application/json has no schema" in p for p in found)
    assert any("operation id a" in p for p in found)
    assert any("parameter q" in p for p in found)
    assert any("no 2xx" in p for p in found)
    assert any("dangling $ref" in p for p in found)


def test_docs_serve_swagger_ui_behind_the_openapi_gate(tmp_path: Path) -> None:
    from lakehouse.core import Lakehouse
    from tests.asgi import AppClient

    for public, status in ((True, 200), (False, 401)):
        settings = Settings.model_validate(
            {"data_dir": tmp_path / str(public), "auth": {"enabled": True, "public_openapi": public}}
        )
        with Lakehouse(settings) as lakehouse:
            client = AppClient(create_app(settings, lakehouse=lakehouse), lakehouse=lakehouse)
            try:
                answer = client.get("/docs")
                assert answer.status_code == status
                if public:
                    assert "swagger" in answer.text.lower() and "/openapi.json" in answer.text
                assert client.get("/openapi.json").status_code == status
            finally:
                client.close()
