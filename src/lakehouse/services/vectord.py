"""vectord: ``/v1/collections``: vector collections, their points, and filtered nearest-neighbour search."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lakehouse.core import Lakehouse
from lakehouse.errors import LakehouseError, MalformedInput, RequestValidationFailed, UnsupportedMediaType
from lakehouse.inputs import check_arrow_end
from lakehouse.paging import decode_cursor, encode_cursor
from lakehouse.server.auth import COLLECTION_NAMESPACE, check_namespace, reaches, require
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.names import collection_namespace
from lakehouse.vectors import Collection, Point

router = APIRouter(prefix="/v1/collections", tags=["vectors"])
Include = Literal["metadata", "text", "vector"]
ARROW = "application/vnd.apache.arrow.stream"
INLINE_MAX_K = 100  # an unfiltered search for at most this many, on a current state, is answered on the event loop


def _lakehouse(request: Request) -> Lakehouse:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="A lowercase identifier (a-z, 0-9, _), unique.")
    dim: int = Field(description="The vectors' dimension.")
    metric: str = Field("cosine", description="cosine, dot or l2.")
    embedder: str | None = Field(None, description="The model that embeds texts (GET /v1/embed/models); default.")


class Upsert(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: list[Any] = Field(description='[{"id", "vector"? | "text"?, "metadata"?, "text"?}], stored as one commit.')


class Delete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Any] | None = Field(None, description="The points to delete.")
    filter: Any = Field(None, description="Or: delete the points whose metadata matches this filter.")


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vector: list[Any] | None = Field(None, description="The query vector.")
    text: str | None = Field(None, description="Or a text, embedded by the collection's embedder.")
    k: int = Field(10, description="How many results (1 to vectors.max_k).")
    filter: Any = Field(None, description="Only points whose metadata matches (docs/api.md: the filter language).")
    include: list[Include] = Field(["metadata"], description="What each result carries besides id and score.")


class Search(SearchQuery):
    queries: list[SearchQuery] | None = Field(None, description="A batch: each query answered in turn.")


def _point(point: Point, include: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": point.id}
    if "metadata" in include:
        out["metadata"] = point.metadata
    if "text" in include:
        out["text"] = point.text
    if "vector" in include:
        out["vector"] = point.vector.tolist()
    return out


@router.post("", status_code=201, summary="Create a collection", dependencies=[require("write")])
async def create_collection(body: CollectionCreate, request: Request) -> dict[str, Any]:
    check_namespace(request, collection_namespace(body.name), f"collection {body.name!r}")
    vectors = _lakehouse(request).vectors
    created = await run_in_threadpool(vectors.create, body.name, body.dim, body.metric, body.embedder)
    return created.to_dict()


@router.get("", summary="List collections", dependencies=[require("read")])
async def list_collections(
    request: Request,
    cursor: str | None = Query(None, description="The `next` of the previous page."),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    after = decode_cursor(cursor)
    visible = reaches(request)
    found: list[Collection] = []
    while len(found) <= limit:  # a key bound to namespaces sees its collections only: fill the page past the rest
        batch = await run_in_threadpool(_lakehouse(request).vectors.list_collections, limit + 1, after)
        found += [c for c in batch if visible(collection_namespace(c.name))]
        if len(batch) <= limit:
            break
        after = batch[-1].name
    page = found[:limit]
    return {
        "items": [c.to_dict() for c in page],
        "next": encode_cursor(page[-1].name) if len(found) > limit else None,
    }


@router.get(
    "/{name}", summary="A collection: count, index state, memory", dependencies=[require("read"), COLLECTION_NAMESPACE]
)
async def get_collection(name: str, request: Request) -> dict[str, Any]:
    described: dict[str, Any] = await run_in_threadpool(_lakehouse(request).vectors.describe, name)
    return described


@router.delete(
    "/{name}", summary="Delete a collection and its points", dependencies=[require("write"), COLLECTION_NAMESPACE]
)
async def delete_collection(name: str, request: Request) -> dict[str, Any]:
    deleted = await run_in_threadpool(_lakehouse(request).vectors.delete, name)
    return {"deleted": deleted.to_dict()}


@router.post(
    "/{name}/upsert",
    summary="Insert or replace points (one commit): JSON, or Arrow IPC with id and vector columns",
    dependencies=[require("write"), COLLECTION_NAMESPACE],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": Upsert.model_json_schema()},
                ARROW: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def upsert(name: str, request: Request) -> dict[str, Any]:
    vectors = _lakehouse(request).vectors
    media = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if media == ARROW:
        table = await run_in_threadpool(_read_arrow, await request.body())
        arrow_result: dict[str, Any] = await run_in_threadpool(vectors.upsert_arrow, name, table)
        return arrow_result
    if media != "application/json":
        raise UnsupportedMediaType(f"Content-Type {media!r}: send application/json or {ARROW}", field="Content-Type")
    try:
        body = Upsert.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc
    result: dict[str, Any] = await run_in_threadpool(vectors.upsert, name, body.points)
    return result


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
async def get_point(name: str, point_id: str, request: Request) -> dict[str, Any]:
    point = await run_in_threadpool(_lakehouse(request).vectors.get_point, name, point_id)
    return _point(point, ["metadata", "text", "vector"])


@router.post(
    "/{name}/delete",
    summary="Delete points by id or by filter (one commit)",
    dependencies=[require("write"), COLLECTION_NAMESPACE],
)
async def delete_points(name: str, body: Delete, request: Request) -> dict[str, Any]:
    vectors = _lakehouse(request).vectors
    result: dict[str, Any] = await run_in_threadpool(
        lambda: vectors.delete_points(name, ids=body.ids, filter=body.filter)
    )
    return result


@router.post(
    "/{name}/search",
    summary="Nearest points, filtered by metadata",
    dependencies=[require("read"), COLLECTION_NAMESPACE],
)
async def search(name: str, body: Search, request: Request) -> dict[str, Any]:
    vectors = _lakehouse(request).vectors

    def one(query: SearchQuery) -> list[dict[str, Any]]:
        found = vectors.search(name, vector=query.vector, text=query.text, k=query.k, filter=query.filter)
        return [{**_point(point, query.include), "score": score} for point, score in found]

    if body.queries is not None:
        if body.vector is not None or body.text is not None:
            raise RequestValidationFailed("give queries, or one vector or text, not both", field="queries")
        queries = body.queries

        def batch() -> list[dict[str, Any]]:
            out = []
            for index, query in enumerate(queries):
                try:
                    out.append({"results": one(query)})
                except LakehouseError as exc:  # say which query: queries[2].vector
                    exc.errors = [
                        dataclasses.replace(item, field=f"queries[{index}]" + (f".{item.field}" if item.field else ""))
                        for item in exc.errors
                    ]
                    raise
            return out

        return {"batches": await run_in_threadpool(batch)}
    if body.vector is not None and body.text is None and body.filter is None and 1 <= body.k <= INLINE_MAX_K:
        found = vectors.search_now(name, vector=body.vector, k=body.k)  # no waiting needed: on the event loop
        if found is not None:
            return {"results": [{**_point(point, body.include), "score": score} for point, score in found]}
    return {"results": await run_in_threadpool(one, body)}
