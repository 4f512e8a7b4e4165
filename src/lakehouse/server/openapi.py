"""The OpenAPI document, corrected to say what the server sends: every error is ``Problem`` as problem+json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from lakehouse.errors import PROBLEM_CONTENT_TYPE
from lakehouse.server.problems import Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": _PROBLEM_REF}}}


def build_openapi(app: FastAPI, models: Sequence[type[BaseModel]] = ()) -> dict[str, Any]:
    """Generate once per app: FastAPI's document with its validation-error schemas replaced by ``Problem``, and
    ``models`` (bodies a route reads itself, named by ``$ref`` in its ``openapi_extra``) among the components."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _problem_response("Request validation failed (validation_failed).")
            responses["default"] = _problem_response("An error, as RFC 9457 problem+json (docs/wire-format.md).")
    app.openapi_schema = spec
    return spec
