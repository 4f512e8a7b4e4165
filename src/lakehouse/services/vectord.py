"""vectord: ``/v1/collections``: vector collections, their points, and filtered nearest-neighbour search."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from lakehouse.core import Lakehouse
from lakehouse.errors import LakehouseError, MalformedInput, RequestValidationFailed, UnsupportedMediaType
from lakehouse.inputs import check_arrow_end
from lakehouse.paging import Page, decode_cursor, page_of
from lakehouse.server.auth import COLLECTION_NAMESPACE, check_namespace, reaches, require
from lakehouse.server.params import PageQuery
from lakehouse.server.self_observe import note
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.names import IDENTIFIER_PATTERN, collection_namespace
from lakehouse.vectors import (
    Collection,
    CollectionInfo,
    CreateCollection,
    DeletedCollection,
    DeletedPoints,
    DeletePoints,
    Hit,
    Point,
    StoredPoint,
    Upserted,
    UpsertPoints,
    VectorBatches,
    VectorQuery,
    VectorResults,
    VectorSearch,
)

router = APIRouter(prefix="/v1/collections", tags=["vectors"])
CollectionName = Annotated[str, Path(description="The collection.", json_schema_extra={"pattern": IDENTIFIER_PATTERN})]
ARROW = "application/vnd.apache.arrow.stream"
INLINE_MAX_K = 100  # an unfiltered search for at most this many, on a current state, is answered on the event loop


def _lakehouse(request: Request) -> Lakehouse:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse


def _stored(point: Point, include: Sequence[str]) -> StoredPoint:
    """The point with what ``include`` names (the rest left out of the answer)."""
    return StoredPoint.model_construct(
        id=point.id,
        metadata=point.metadata if "metadata" in include else None,
        text=point.text if "text" in include else None,
        vector=point.vector.tolist() if "vector" in include else None,
    )


def _hit(point: Point, include: Sequence[str], score: float) -> Hit:
    return Hit.model_construct(**dict(_stored(point, include)), score=score)


@router.post("", status_code=201, summary="Create a collection", dependencies=[require("write")])
async def create_collection(body: CreateCollection, request: Request) -> Collection:
    check_namespace(request, collection_namespace(body.name), f"collection {body.name!r}")
    vectors = _lakehouse(request).vectors
    return await run_in_threadpool(vectors.create, body.name, body.dim, body.metric, body.embedder)


@router.get("", summary="List collections", dependencies=[require("read")])
async def list_collections(request: Request, paging: Annotated[PageQuery, Depends()]) -> Page[Collection]:
    after = decode_cursor(paging.cursor)
    limit = paging.limit
    visible = reaches(request)
    found: list[Collection] = []
    while len(found) <= limit:  # a key bound to namespaces sees its collections only: fill the page past the rest
        batch = await run_in_threadpool(_lakehouse(request).vectors.list_collections, limit + 1, after)
        found += [c for c in batch if visible(collection_namespace(c.name))]
        if len(batch) <= limit:
            break
        after = batch[-1].name
    return page_of(found, limit, lambda c: c.name)


@router.get(
    "/{name}", summary="A collection: count, index state, memory", dependencies=[require("read"), COLLECTION_NAMESPACE]
)
async def get_collection(name: CollectionName, request: Request) -> CollectionInfo:
    return await run_in_threadpool(_lakehouse(request).vectors.describe, name)


@router.delete(
    "/{name}", summary="Delete a collection and its points", dependencies=[require("write"), COLLECTION_NAMESPACE]
)
async def delete_collection(name: CollectionName, request: Request) -> DeletedCollection:
    deleted = await run_in_threadpool(_lakehouse(request).vectors.delete, name)
    return DeletedCollection(deleted=deleted)


@router.post(
    "/{name}/upsert",
    summary="Insert or replace points (one commit): JSON, or Arrow IPC with id and vector columns",
    dependencies=[require("write"), COLLECTION_NAMESPACE],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/UpsertPoints"}},
                ARROW: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def upsert(name: CollectionName, request: Request) -> Upserted:
    vectors = _lakehouse(request).vectors
    media = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if media == ARROW:
        table = await run_in_threadpool(_read_arrow, await request.body())
        return await run_in_threadpool(vectors.upsert_arrow, name, table)
    if media != "application/json":
        raise UnsupportedMediaType(f"Content-Type {media!r}: send application/json or {ARROW}", field="Content-Type")
    try:
        body = UpsertPoints.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc
    return await run_in_threadpool(vectors.upsert, name, body.points)


def _read_arrow(body: bytes) -> Any:
    import pyarrow as pa
    import pyarrow.ipc

    try:
        table = pyarrow.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise MalformedInput(f"the body is not an Arrow IPC stream: {exc}", field="body") from exc
    check_arrow_end(body)  # a stream cut between two batches reads as complete: only its end marker tells
    return table


@router.get("/{name}/points/{point_id}", summary="One point", dependencies=[require("read"), COLLECTION_NAMESPACE])
async def get_point(name: CollectionName, point_id: str, request: Request) -> StoredPoint:
    point = await run_in_threadpool(_lakehouse(request).vectors.get_point, name, point_id)
    return _stored(point, ["metadata", "text", "vector"])


@router.post(
    "/{name}/delete",
    summary="Delete points by id or by filter (one commit)",
    dependencies=[require("write"), COLLECTION_NAMESPACE],
)
async def delete_points(name: CollectionName, body: DeletePoints, request: Request) -> DeletedPoints:
    vectors = _lakehouse(request).vectors
    return await run_in_threadpool(lambda: vectors.delete_points(name, ids=body.ids, filter=body.filter))


@router.post(
    "/{name}/search",
    summary="Nearest points, filtered by metadata",
    dependencies=[require("read"), COLLECTION_NAMESPACE],
)
async def search(name: CollectionName, body: VectorSearch, request: Request) -> VectorResults | VectorBatches:
    vectors = _lakehouse(request).vectors

    def one(query: VectorQuery) -> VectorResults:
        found = vectors.search(name, vector=query.vector, text=query.text, k=query.k, filter=query.filter)
        return VectorResults(results=[_hit(point, query.include, score) for point, score in found])

    if body.queries is not None:
        if body.vector is not None or body.text is not None:
            raise RequestValidationFailed("give queries, or one vector or text, not both", field="queries")
        queries = body.queries

        def batch() -> list[VectorResults]:
            out = []
            for index, query in enumerate(queries):
                try:
                    out.append(one(query))
                except LakehouseError as exc:  # say which query: queries[2].vector
                    exc.errors = [
                        dataclasses.replace(item, field=f"queries[{index}]" + (f".{item.field}" if item.field else ""))
                        for item in exc.errors
                    ]
                    raise
            return out

        batches = await run_in_threadpool(batch)
        note(request, collection=name, result_count=sum(len(b.results) for b in batches))
        return VectorBatches(batches=batches)
    if body.vector is not None and body.text is None and body.filter is None and 1 <= body.k <= INLINE_MAX_K:
        found = vectors.search_now(name, vector=body.vector, k=body.k)  # no waiting needed: on the event loop
        if found is not None:
            note(request, collection=name, result_count=len(found))
            return VectorResults(results=[_hit(point, body.include, score) for point, score in found])
    answer = await run_in_threadpool(one, body)
    note(request, collection=name, result_count=len(answer.results))
    return answer
