"""storaged: blobs under /v1/blobs/{bucket}/{key}, streamed both ways."""

from __future__ import annotations

from email.utils import format_datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from lakehouse.blobs import BlobInfo, BlobStore
from lakehouse.blobs.names import BUCKET_PATTERN, KEY_PATTERN, MAX_KEY_BYTES
from lakehouse.errors import BadRequest
from lakehouse.paging import Page
from lakehouse.server.auth import RECORDINGS_BUCKET_GUARD, require
from lakehouse.server.idempotent import Answer, idempotent
from lakehouse.server.params import PageQuery

router = APIRouter(prefix="/v1/blobs", tags=["blobs"])
Bucket = Annotated[str, Path(description="3-63 of a-z 0-9 . -.", json_schema_extra={"pattern": BUCKET_PATTERN})]
Key = Annotated[
    str,
    Path(
        description="/-separated segments; any Unicode, no control characters.",
        json_schema_extra={"pattern": KEY_PATTERN, "maxLength": MAX_KEY_BYTES},
    ),
]


def _store(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.lakehouse.blobs
    return store


def _headers(info: BlobInfo) -> dict[str, str]:
    headers = {"Accept-Ranges": "bytes"}
    if info.etag:
        headers["ETag"] = info.etag
    if info.last_modified:
        headers["Last-Modified"] = format_datetime(info.last_modified, usegmt=True)
    return headers


@router.put(
    "/{bucket}/{key:path}",
    status_code=201,
    summary="Upload a blob (streamed)",
    dependencies=[require("write"), RECORDINGS_BUCKET_GUARD],
    response_model=BlobInfo,
    openapi_extra={
        "requestBody": {
            "required": False,  # an empty body is an empty blob
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def put_blob(bucket: Bucket, key: Key, request: Request) -> Response:
    condition = request.headers.get("if-none-match")
    if condition is not None and condition.strip() != "*":
        raise BadRequest("only 'If-None-Match: *' (do not overwrite) is supported on PUT", field="If-None-Match")

    async def work(_token: str | None) -> Answer:
        info = await _store(request).put(bucket, key, request.stream(), if_none_match=condition is not None)
        headers = _headers(info)
        headers["Location"] = f"/v1/blobs/{bucket}/{quote(key, safe='/')}"
        return 201, info, headers

    return await idempotent(request, [condition], work, body_digest=lambda body: str(body["sha256"]))


@router.get(
    "/{bucket}/{key:path}",
    summary="Download a blob (streamed; Range supported)",
    response_class=Response,
    dependencies=[require("read"), RECORDINGS_BUCKET_GUARD],
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        206: {
            "description": "The range asked for (Content-Range).",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
async def get_blob(bucket: Bucket, key: Key, request: Request) -> Response:
    read = await _store(request).get(bucket, key, request.headers.get("range"))
    headers = _headers(read.info)
    headers["Content-Length"] = str(read.length)
    if read.partial:
        headers["Content-Range"] = f"bytes {read.start}-{read.end}/{read.info.size}"
    return StreamingResponse(
        read.chunks,
        status_code=206 if read.partial else 200,
        headers=headers,
        media_type="application/octet-stream",
    )


@router.head(
    "/{bucket}/{key:path}",
    summary="A blob's size and etag",
    response_class=Response,
    dependencies=[require("read"), RECORDINGS_BUCKET_GUARD],
)
async def head_blob(bucket: Bucket, key: Key, request: Request) -> Response:
    info = await _store(request).head(bucket, key)
    headers = _headers(info)
    headers["Content-Length"] = str(info.size)
    return Response(status_code=200, headers=headers, media_type="application/octet-stream")


@router.delete(
    "/{bucket}/{key:path}",
    status_code=204,
    summary="Delete a blob",
    response_class=Response,
    dependencies=[require("write"), RECORDINGS_BUCKET_GUARD],
)
async def delete_blob(bucket: Bucket, key: Key, request: Request) -> Response:
    async def work(_token: str | None) -> Answer:
        await _store(request).delete(bucket, key)
        return 204, None, {}

    return await idempotent(request, [], work)


@router.get(
    "/{bucket}", summary="List blobs (paged, by key order)", dependencies=[require("read"), RECORDINGS_BUCKET_GUARD]
)
async def list_blobs(
    bucket: Bucket,
    request: Request,
    paging: Annotated[PageQuery, Depends()],
    prefix: Annotated[str, Query(description="Only keys starting with this.")] = "",
) -> Page[BlobInfo]:
    page = await _store(request).list(bucket, prefix=prefix, cursor=paging.cursor, limit=paging.limit)
    return Page[BlobInfo](items=page.items, next=page.next_cursor)
