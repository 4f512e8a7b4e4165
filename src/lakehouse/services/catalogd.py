"""catalogd: datasets under /v1/datasets: create, list, describe, rename, drop, snapshots."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from lakehouse.core import Lakehouse
from lakehouse.paging import decode_cursor, encode_cursor
from lakehouse.server.auth import DATASET_NAMESPACE, check_namespace, reaches, require
from lakehouse.server.idempotent import Answer, idempotent
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.datasets import Datasets, split_name

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Lowercase identifier.")
    type: str = Field(description="BIGINT, VARCHAR, DOUBLE, DECIMAL(p,s), TIMESTAMP, VARCHAR[], ... (docs/api.md).")
    nullable: bool = True


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="`name` or `namespace.name`, lowercase identifiers.")
    namespace: str | None = Field(None, description="Defaults to `main`.")
    columns: list[ColumnSpec] | None = Field(
        None,
        min_length=1,
        description="The dataset's columns, in order. Leave out to let the first ingest infer them.",
    )
    description: str | None = Field(None, max_length=4000)


class DatasetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="New name, in the same namespace.")
    description: str | None = Field(None, max_length=4000)


def _datasets(request: Request) -> Datasets:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse.datasets


@router.post("", status_code=201, summary="Create a dataset", dependencies=[require("write")])
async def create_dataset(body: DatasetCreate, request: Request) -> Response:
    namespace, _ = split_name(body.name, body.namespace)
    check_namespace(request, namespace, f"dataset {body.name!r}")
    columns = [c.model_dump() for c in body.columns] if body.columns is not None else None

    async def work() -> Answer:
        datasets = await run_in_threadpool(_datasets, request)
        created = await run_in_threadpool(
            lambda: datasets.create(body.name, columns, namespace=body.namespace, description=body.description)
        )
        return 201, created.to_dict(), {}

    return await idempotent(request, [body.model_dump()], work)


@router.get("", summary="List datasets (paged)", dependencies=[require("read")])
async def list_datasets(
    request: Request,
    namespace: str | None = Query(None),
    cursor: str | None = Query(None, description="The `next` of the previous page."),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    after = decode_cursor(cursor)
    datasets = await run_in_threadpool(_datasets, request)
    visible = reaches(request)
    names = [f"{ns}.{name}" for ns, name in await run_in_threadpool(datasets.list, namespace) if visible(ns)]
    remaining = [n for n in names if after is None or n > after]
    page = remaining[:limit]
    return {
        "items": [{"namespace": n.split(".")[0], "name": n.split(".")[1]} for n in page],
        "next": encode_cursor(page[-1]) if len(remaining) > limit else None,
    }


@router.get("/{name}", summary="Describe a dataset", dependencies=[require("read"), DATASET_NAMESPACE])
async def get_dataset(name: str, request: Request) -> dict[str, Any]:
    datasets = await run_in_threadpool(_datasets, request)
    return (await run_in_threadpool(datasets.get, name)).to_dict()


@router.get(
    "/{name}/schema.json",
    summary="The dataset's row as a JSON Schema (register it with POST /v1/schemas)",
    dependencies=[require("read"), DATASET_NAMESPACE],
)
async def dataset_json_schema(name: str, request: Request) -> Response:
    datasets = await run_in_threadpool(_datasets, request)
    document = await run_in_threadpool(datasets.json_schema, name)
    return JSONResponse(document, media_type="application/schema+json")


@router.patch(
    "/{name}", summary="Rename a dataset or set its description", dependencies=[require("write"), DATASET_NAMESPACE]
)
async def patch_dataset(name: str, body: DatasetPatch, request: Request) -> Response:
    async def work() -> Answer:
        datasets = await run_in_threadpool(_datasets, request)
        updated = await run_in_threadpool(
            lambda: datasets.update(name, new_name=body.name, description=body.description)
        )
        return 200, updated.to_dict(), {}

    return await idempotent(request, [body.model_dump()], work)


@router.delete(
    "/{name}",
    summary="Drop a dataset (time travel still reaches it)",
    dependencies=[require("write"), DATASET_NAMESPACE],
)
async def delete_dataset(name: str, request: Request) -> Response:
    async def work() -> Answer:
        datasets = await run_in_threadpool(_datasets, request)
        snapshot = await run_in_threadpool(datasets.drop, name)
        return 200, {"dropped": name, "snapshot_id": snapshot}, {}

    return await idempotent(request, [], work)


@router.get(
    "/{name}/snapshots",
    summary="The snapshots that changed a dataset",
    dependencies=[require("read"), DATASET_NAMESPACE],
)
async def dataset_snapshots(name: str, request: Request) -> dict[str, Any]:
    datasets = await run_in_threadpool(_datasets, request)
    return {"items": [s.to_dict() for s in await run_in_threadpool(datasets.snapshots, name)]}
