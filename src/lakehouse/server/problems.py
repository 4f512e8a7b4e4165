"""Every error becomes the one problem+json response: our exceptions, FastAPI's and Starlette's."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from lakehouse.errors import (
    PROBLEM_CONTENT_TYPE,
    InvalidJson,
    LakehouseError,
    MethodNotAllowed,
    RequestValidationFailed,
    RouteNotFound,
    error_class_for_kind,
    problem_body,
)
from lakehouse.server.logs import request_id_var
from lakehouse.wire import error_items


class ProblemItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="Stable machine key (docs/wire-format.md).")
    field: str | None = Field(description="Dotted name of what is wrong, e.g. items[2].qty.")
    pointer: str = Field(description="RFC 6901 JSON Pointer of field ('' for none).")
    reason: str = Field(description="Human text; may change. Never parse it.")
    line: int | None = Field(None, description="Ingest: the 1-based line (or row) of the input at fault.")
    expected: str | None = Field(None, description="schema_mismatch: the dataset's column type.")
    got: str | None = Field(None, description="schema_mismatch: the incoming column type.")
    current_version: int | None = Field(None, description="version_conflict: the version the memory is at.")
    cycle: list[str] | None = Field(None, description="revision_cycle: the ids of the cycle, in order.")
    ctx: dict[str, Any] | None = Field(None, description="The rule's parameters, e.g. {'limit': 5} (per kind).")
    index: int | None = Field(None, description="Batch validation: the index of the payload at fault.")
    row: int | None = Field(None, description="Ingest with a schema: the 1-based row at fault.")


class Problem(BaseModel):
    """The RFC 9457 body of every error (``application/problem+json``); ``PROBLEM_SCHEMA`` is its JSON Schema."""

    type: str = Field(description="urn:lakehouse:problem:<kind>")
    title: str
    status: int
    detail: str
    request_id: str | None
    errors: list[ProblemItem] = Field(min_length=1)


#: the JSON Schema of the problem body, checked in next to this module (``problem.schema.json``)
PROBLEM_SCHEMA: dict[str, Any] = json.loads((Path(__file__).parent / "problem.schema.json").read_text())


def problem_response(
    exc: LakehouseError, request_id: str | None = None, host_details: Sequence[tuple[str, str]] = ()
) -> Response:
    rid = request_id or request_id_var.get()
    body = problem_body(
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        request_id=rid,
        kind=exc.kind,
        host_details=host_details,
    )
    headers = dict(exc.headers)
    if rid:
        headers["X-Request-ID"] = rid
    return Response(content=json.dumps(body), status_code=exc.status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


def from_validation_error(exc: RequestValidationError) -> LakehouseError:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        ctx = next((e.get("ctx") or {} for e in errors if e.get("type") == "json_invalid"), {})
        return InvalidJson(f"request body is not valid JSON: {ctx.get('error', 'parse error')}", field="body")
    items = error_items(errors, sourced=True)
    detail = f"{len(items)} problem(s) in the request" if len(items) != 1 else items[0].reason
    return RequestValidationFailed(detail, errors=items)


def from_http_exception(exc: StarletteHTTPException) -> LakehouseError:
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return RouteNotFound("no route matches this path", headers=headers)
    if exc.status_code == 405:
        return MethodNotAllowed("this route does not accept that method", headers=headers)
    cls = error_class_for_kind("", exc.status_code)
    return cls(str(exc.detail), headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this path (a 405's ``Allow``: routes of one path may be
    declared apart, and the router reports only the first it tried)."""
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install_problem_handlers(app: FastAPI) -> None:
    def private(request: Request) -> list[tuple[str, str]]:
        details: list[tuple[str, str]] = getattr(request.app.state, "host_details", [])
        return details

    async def on_lakehouse_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LakehouseError)
        return problem_response(exc, host_details=private(request))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(from_validation_error(exc), host_details=private(request))

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error = from_http_exception(exc)
        if exc.status_code == 405:
            error.headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(error, host_details=private(request))

    app.add_exception_handler(LakehouseError, on_lakehouse_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
