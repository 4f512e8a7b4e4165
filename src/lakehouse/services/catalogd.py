"""catalogd: datasets under /v1/datasets: create, list, describe, rename, drop, snapshots."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import JSONResponse, Response

from lakehouse.core import Lakehouse
from lakehouse.paging import Page, decode_cursor, page_of
from lakehouse.server.auth import DATASET_NAMESPACE, check_namespace, reaches, require
from lakehouse.server.idempotent import Answer, idempotent
from lakehouse.server.params import PageQuery
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.datasets import Datasets, split_name
from lakehouse.tables.model import CreateDataset, Dataset, DatasetRef, Dropped, PatchDataset, Snapshots
from lakehouse.tables.names import DATASET_PATTERN

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
DatasetName = Annotated[
    str, Path(description="`name` or `namespace.name`.", json_schema_extra={"pattern": DATASET_PATTERN})
]


class SchemaJSONResponse(JSONResponse):
    media_type = "application/schema+json"


def _datasets(request: Request) -> Datasets:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse.datasets


@router.post("", status_code=201, summary="Create a dataset", dependencies=[require("write")], response_model=Dataset)
async def create_dataset(body: CreateDataset, request: Request) -> Response:
    namespace, _ = split_name(body.name, body.namespace)
    check_namespace(request, namespace, f"dataset {body.name!r}")
    columns = [c.model_dump() for c in body.columns] if body.columns is not None else None

    async def work(_token: str | None) -> Answer:
        datasets = await run_in_threadpool(_datasets, request)
        created = await run_in_threadpool(
            lambda: datasets.create(body.name, columns, namespace=body.namespace, description=body.description)
        )
        return 201, created, {}

    return await idempotent(request, [body.model_dump()], work)


@router.get("", summary="List datasets (paged)", dependencies=[require("read")])
async def list_datasets(
    request: Request,
    paging: Annotated[PageQuery, Depends()],
    namespace: Annotated[str | None, Query(description="Only this namespace.")] = None,
) -> Page[DatasetRef]:
    after = decode_cursor(paging.cursor)
    datasets = await run_in_threadpool(_datasets, request)
    visible = reaches(request)
    found = [
        DatasetRef(namespace=ns, name=name)
        for ns, name in await run_in_threadpool(datasets.list, namespace)
        if visible(ns) and (after is None or f"{ns}.{name}" > after)
    ]
    return page_of(found[: paging.limit + 1], paging.limit, lambda d: f"{d.namespace}.{d.name}")


@router.get("/{name}", summary="Describe a dataset", dependencies=[require("read"), DATASET_NAMESPACE])
async def get_dataset(name: DatasetName, request: Request) -> Dataset:
    datasets = await run_in_threadpool(_datasets, request)
    return await run_in_threadpool(datasets.get, name)


@router.get(
    "/{name}/schema.json",
    summary="The dataset's row as a JSON Schema (register it with POST /v1/schemas)",
    dependencies=[require("read"), DATASET_NAMESPACE],
    response_class=SchemaJSONResponse,
    responses={
        200: {
            "description": "A JSON Schema (draft 2020-12) of one row.",
            "content": {
                "application/schema+json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "$schema": {"type": "string"},
                            "type": {"const": "object"},
                            "properties": {"type": "object", "additionalProperties": {"type": "object"}},
                            "required": {"type": "array", "items": {"type": "string"}},
                        },
                    }
                }
            },
        }
    },
)
async def dataset_json_schema(name: DatasetName, request: Request) -> SchemaJSONResponse:
    datasets = await run_in_threadpool(_datasets, request)
    document = await run_in_threadpool(datasets.json_schema, name)
    return SchemaJSONResponse(document)


@router.patch(
    "/{name}",
    summary="Rename a dataset or set its description",
    dependencies=[require("write"), DATASET_NAMESPACE],
    response_model=Dataset,
)
async def patch_dataset(name: DatasetName, body: PatchDataset, request: Request) -> Response:
    async def work(_token: str | None) -> Answer:
        datasets = await run_in_threadpool(_datasets, request)
        updated = await run_in_threadpool(
            lambda: datasets.update(name, new_name=body.name, description=body.description)
        )
        return 200, updated, {}

    return await idempotent(request, [body.model_dump()], work)


@router.delete(
    "/{name}",
    summary="Drop a dataset (time travel still reaches it)",
    dependencies=[require("write"), DATASET_NAMESPACE],
    response_model=Dropped,
)
async def delete_dataset(name: DatasetName, request: Request) -> Response:
    async def work(_token: str | None) -> Answer:
        datasets = await run_in_threadpool(_datasets, request)
        snapshot = await run_in_threadpool(datasets.drop, name)
        return 200, Dropped(dropped=name, snapshot_id=snapshot), {}

    return await idempotent(request, [], work)


@router.get(
    "/{name}/snapshots",
    summary="The snapshots that changed a dataset",
    dependencies=[require("read"), DATASET_NAMESPACE],
)
async def dataset_snapshots(name: DatasetName, request: Request) -> Snapshots:
    datasets = await run_in_threadpool(_datasets, request)
    return Snapshots(items=await run_in_threadpool(datasets.snapshots, name))
