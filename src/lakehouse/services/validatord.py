"""validatord: the schema registry (``/v1/schemas``) and validation of payloads (``POST /v1/validate``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from lakehouse.core import Lakehouse
from lakehouse.errors import RequestValidationFailed
from lakehouse.paging import decode_cursor, encode_cursor
from lakehouse.server.auth import check_namespace, require
from lakehouse.server.idempotent import Answer, idempotent
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.datasets import split_name
from lakehouse.validation.registry import MAX_VERSION

router = APIRouter(tags=["validation"])


def _lakehouse(request: Request) -> Lakehouse:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse


class SchemaRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Letters, digits, '_', '.', '-'; starts with a letter; at most 128.")
    schema_: dict[str, Any] | bool | None = Field(
        None, alias="schema", description="The JSON Schema (2020-12; 2019-09 and draft-07 by `$schema`)."
    )
    from_dataset: str | None = Field(
        None,
        description="Or: register the JSON Schema of this dataset's columns (GET /v1/datasets/{name}/schema.json).",
    )
    description: str | None = Field(None, max_length=4000)
    force: bool = Field(False, description="Register even when the new version breaks the previous one.")


class ValidateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_: str | dict[str, Any] | bool = Field(
        alias="schema", description='A registered schema ("name" or "name@version"), or a schema inline.'
    )
    payload: Any = Field(None, description="The payload to validate.")
    payloads: list[Any] | None = Field(None, description="Or a batch of payloads, each validated.")
    max_errors: int | None = Field(
        None, ge=1, le=10_000, description="Error items per payload (validation.max_errors)."
    )


@router.post(
    "/v1/schemas",
    status_code=201,
    summary="Register a JSON Schema (a new version of the name)",
    dependencies=[require("write")],
)
async def register_schema(body: SchemaRegister, request: Request) -> Response:
    lakehouse = _lakehouse(request)
    if (body.schema_ is None) == (body.from_dataset is None):
        raise RequestValidationFailed("give exactly one of schema and from_dataset", field="schema")
    if body.from_dataset is not None:
        check_namespace(request, split_name(body.from_dataset)[0], f"dataset {body.from_dataset!r}")

    def register() -> Answer:
        document: Any = (
            lakehouse.datasets.json_schema(body.from_dataset) if body.from_dataset is not None else body.schema_
        )
        done = lakehouse.schemas.register(body.name, document, description=body.description, force=body.force)
        return (201 if done.created else 200), {**done.version.to_dict(), "created": done.created}, {}

    async def work() -> Answer:
        return await run_in_threadpool(register)

    return await idempotent(request, [body.model_dump(by_alias=True)], work)


@router.get("/v1/schemas", summary="List registered schemas (paged, by name)", dependencies=[require("read")])
async def list_schemas(
    request: Request,
    cursor: str | None = Query(None, description="The `next` of the previous page."),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    after = decode_cursor(cursor)
    registry = _lakehouse(request).schemas
    items = await run_in_threadpool(lambda: registry.list(after=after, limit=limit + 1))
    page = items[:limit]
    return {"items": page, "next": encode_cursor(page[-1]["name"]) if len(items) > limit else None}


@router.get("/v1/schemas/{name}", summary="The newest live version of a schema", dependencies=[require("read")])
async def get_schema(name: str, request: Request) -> dict[str, Any]:
    registry = _lakehouse(request).schemas
    return (await run_in_threadpool(registry.get, name)).to_dict()


@router.get("/v1/schemas/{name}/versions", summary="Every version of a schema", dependencies=[require("read")])
async def list_versions(name: str, request: Request) -> dict[str, Any]:
    registry = _lakehouse(request).schemas
    return {"items": [v.to_dict() for v in await run_in_threadpool(registry.versions, name)], "next": None}


@router.get("/v1/schemas/{name}/versions/{version}", summary="One version of a schema", dependencies=[require("read")])
async def get_version(name: str, request: Request, version: int = Path(ge=1, le=MAX_VERSION)) -> dict[str, Any]:
    registry = _lakehouse(request).schemas
    return (await run_in_threadpool(registry.get, name, version)).to_dict()


@router.delete(
    "/v1/schemas/{name}/versions/{version}",
    summary="Retire a version (validation against it is then 410 schema_retired)",
    dependencies=[require("write")],
)
async def retire_version(name: str, request: Request, version: int = Path(ge=1, le=MAX_VERSION)) -> Response:
    registry = _lakehouse(request).schemas

    async def work() -> Answer:
        return 200, (await run_in_threadpool(registry.retire, name, version)).to_dict(), {}

    return await idempotent(request, [], work)


@router.post(
    "/v1/validate",
    summary="Validate a payload, or a batch, against a registered or inline schema",
    dependencies=[require("read")],
)
async def validate(body: ValidateBody, request: Request) -> dict[str, Any]:
    validation = _lakehouse(request).validation
    given = body.model_fields_set
    if ("payload" in given) == ("payloads" in given) or ("payloads" in given and body.payloads is None):
        raise RequestValidationFailed("give exactly one of payload and payloads (a list)", field="payload")
    if body.payloads is not None:
        payloads = body.payloads
        batch = await run_in_threadpool(
            lambda: validation.validate_many(body.schema_, payloads, max_errors=body.max_errors)
        )
        if not batch.valid:
            raise batch.problem(validation.label(batch.schema))
        return batch.to_dict()

    def one() -> dict[str, Any]:
        bound = validation.validator(body.schema_, max_errors=body.max_errors)
        verdict = bound.validate(body.payload)
        if not verdict.valid:
            raise bound.problem(verdict)
        return {"valid": True, "schema": bound.schema}

    return await run_in_threadpool(one)
