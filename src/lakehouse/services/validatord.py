"""validatord: the schema registry (``/v1/schemas``) and validation of payloads (``POST /v1/validate``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from lakehouse.core import Lakehouse
from lakehouse.errors import RequestValidationFailed
from lakehouse.paging import Page, decode_cursor, page_of
from lakehouse.server.auth import check_namespace, require
from lakehouse.server.idempotent import Answer, idempotent
from lakehouse.server.params import PageQuery
from lakehouse.server.self_observe import note
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.datasets import split_name
from lakehouse.validation import (
    BatchValid,
    RegisteredSchema,
    RegisterSchema,
    SchemaSummary,
    SchemaVersion,
    SchemaVersions,
    Valid,
    ValidateRequest,
)
from lakehouse.validation.model import NAME_PATTERN, SchemaDocument
from lakehouse.validation.registry import MAX_VERSION

router = APIRouter(tags=["validation"])
SchemaName = Annotated[str, Path(description="The schema's name.", json_schema_extra={"pattern": NAME_PATTERN})]


def _lakehouse(request: Request) -> Lakehouse:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse


@router.post(
    "/v1/schemas",
    status_code=201,
    summary="Register a JSON Schema (a new version of the name)",
    dependencies=[require("write")],
    response_model=RegisteredSchema,
    responses={200: {"model": RegisteredSchema, "description": "The newest live version was identical: it."}},
)
async def register_schema(body: RegisterSchema, request: Request) -> Response:
    lakehouse = _lakehouse(request)
    if (body.schema_ is None) == (body.from_dataset is None):
        raise RequestValidationFailed("give exactly one of schema and from_dataset", field="schema")
    if body.from_dataset is not None:
        check_namespace(request, split_name(body.from_dataset)[0], f"dataset {body.from_dataset!r}")

    def register() -> Answer:
        document: SchemaDocument | dict[str, object] | None = (
            lakehouse.datasets.json_schema(body.from_dataset) if body.from_dataset is not None else body.schema_
        )
        done = lakehouse.schemas.register(body.name, document, description=body.description, force=body.force)
        answer = RegisteredSchema.model_validate({**dict(done.version), "created": done.created})
        return (201 if done.created else 200), answer, {}

    async def work(_token: str | None) -> Answer:
        return await run_in_threadpool(register)

    return await idempotent(request, [body.model_dump(by_alias=True)], work)


@router.get("/v1/schemas", summary="List registered schemas (paged, by name)", dependencies=[require("read")])
async def list_schemas(request: Request, paging: Annotated[PageQuery, Depends()]) -> Page[SchemaSummary]:
    after = decode_cursor(paging.cursor)
    registry = _lakehouse(request).schemas
    items = await run_in_threadpool(lambda: registry.list(after=after, limit=paging.limit + 1))
    return page_of(items, paging.limit, lambda s: s.name)


@router.get("/v1/schemas/{name}", summary="The newest live version of a schema", dependencies=[require("read")])
async def get_schema(name: SchemaName, request: Request) -> SchemaVersion:
    registry = _lakehouse(request).schemas
    return await run_in_threadpool(registry.get, name)


@router.get("/v1/schemas/{name}/versions", summary="Every version of a schema", dependencies=[require("read")])
async def list_versions(name: SchemaName, request: Request) -> SchemaVersions:
    registry = _lakehouse(request).schemas
    return SchemaVersions(items=await run_in_threadpool(registry.versions, name))


Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]


@router.get("/v1/schemas/{name}/versions/{version}", summary="One version of a schema", dependencies=[require("read")])
async def get_version(name: SchemaName, request: Request, version: Version) -> SchemaVersion:
    registry = _lakehouse(request).schemas
    return await run_in_threadpool(registry.get, name, version)


@router.delete(
    "/v1/schemas/{name}/versions/{version}",
    summary="Retire a version (validation against it is then 410 schema_retired)",
    dependencies=[require("write")],
    response_model=SchemaVersion,
)
async def retire_version(name: SchemaName, request: Request, version: Version) -> Response:
    registry = _lakehouse(request).schemas

    async def work(_token: str | None) -> Answer:
        return 200, await run_in_threadpool(registry.retire, name, version), {}

    return await idempotent(request, [], work)


@router.post(
    "/v1/validate",
    summary="Validate a payload, or a batch, against a registered or inline schema",
    dependencies=[require("read")],
)
async def validate(body: ValidateRequest, request: Request) -> Valid | BatchValid:
    validation = _lakehouse(request).validation
    given = body.model_fields_set
    if ("payload" in given) == ("payloads" in given) or ("payloads" in given and body.payloads is None):
        raise RequestValidationFailed("give exactly one of payload and payloads (a list)", field="payload")
    if body.payloads is not None:
        payloads = body.payloads
        batch = await run_in_threadpool(
            lambda: validation.validate_many(body.schema_, payloads, max_errors=body.max_errors)
        )
        note(request, schema=validation.label(batch.schema), valid=batch.valid, payloads=len(payloads))
        if not batch.valid:
            raise batch.problem(validation.label(batch.schema))
        return BatchValid.model_validate(batch.to_dict())

    def one() -> Valid:
        bound = validation.validator(body.schema_, max_errors=body.max_errors)
        verdict = bound.validate(body.payload)
        note(request, schema=validation.label(bound.schema), valid=verdict.valid)
        if not verdict.valid:
            raise bound.problem(verdict)
        return Valid.model_validate({"valid": True, "schema": bound.schema})

    return await run_in_threadpool(one)
