"""ingestd: ``POST /v1/datasets/{name}/ingest``: the body is spooled to disk, then written as one lake commit."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from starlette.responses import Response

from lakehouse.core import Lakehouse
from lakehouse.errors import RequestValidationFailed
from lakehouse.idempotency import validate_key as validate_idempotency_key
from lakehouse.server.auth import DATASET_NAMESPACE, require
from lakehouse.server.idempotent import Answer, idempotent
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.ingest import Ingestor, format_for
from lakehouse.tables.model import IngestSummary
from lakehouse.tables.names import DATASET_PATTERN
from lakehouse.tables.spool import new_file, spool_dir

router = APIRouter(tags=["ingest"])
_BATCH = 1024 * 1024


async def _spool(request: Request, directory: Path, *, digest: bool) -> tuple[Path, str | None]:
    """Stream the body to a file in the spool directory, a MiB at a time, writing one MiB in a thread while the next
    is received; returns the file and, when asked for (an idempotent request compares bodies), its sha256, computed
    in the writer thread."""
    path = new_file(directory, ".body")
    handle = await anyio.to_thread.run_sync(path.open, "xb")
    hasher = hashlib.sha256() if digest else None

    def write(block: bytearray) -> None:
        if hasher is not None:
            hasher.update(block)
        handle.write(block)

    loop = asyncio.get_running_loop()
    writing: asyncio.Future[None] | None = None  # one write in flight while the next MiB is received
    try:
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= _BATCH:
                if writing is not None:
                    await writing
                writing = loop.run_in_executor(None, write, pending)
                pending = bytearray()
        if writing is not None:
            await writing
        if pending:
            await anyio.to_thread.run_sync(write, pending)
    except BaseException:
        if writing is not None:
            with contextlib.suppress(BaseException):
                await writing
        handle.close()
        path.unlink(missing_ok=True)
        raise
    handle.close()
    return path, hasher.hexdigest() if hasher is not None else None


_MEDIA_TYPES = {
    "text/csv": {"schema": {"type": "string"}, "example": "id,name\n1,ada\n2,bob\n"},
    "application/x-ndjson": {"schema": {"type": "string"}, "example": '{"id": 1, "name": "ada"}\n'},
    "application/json": {
        "schema": {
            "type": "array",
            "description": "The rows: one object per row, column name to value.",
            "items": {"type": "object", "additionalProperties": {"description": "A column's value (any JSON)."}},
        },
        "example": [{"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}],
    },
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}},
}


@router.post(
    "/v1/datasets/{name}/ingest",
    summary="Ingest CSV, NDJSON, JSON, Parquet or Arrow IPC into a dataset (one commit)",
    dependencies=[require("write"), DATASET_NAMESPACE],
    response_model=IngestSummary,
    openapi_extra={"requestBody": {"required": True, "content": _MEDIA_TYPES}},
)
async def ingest(
    name: Annotated[str, PathParam(description="The dataset.", json_schema_extra={"pattern": DATASET_PATTERN})],
    request: Request,
    mode: Annotated[Literal["append", "overwrite", "upsert"], Query()] = "append",
    key: Annotated[str | None, Query(description="Key column(s) for upsert, comma-separated.")] = None,
    create: Annotated[
        bool, Query(description="Create the dataset from the data's schema if it does not exist.")
    ] = False,
    schema: Annotated[
        str | None, Query(description='Check every row against this schema ("name" or "name@version").')
    ] = None,
    on_error: Annotated[
        Literal["reject", "skip"] | None,
        Query(description="With schema: reject (default) refuses the body if any row fails; skip writes the others."),
    ] = None,
) -> Response:
    fmt = format_for(request.headers.get("content-type"))
    lakehouse: Lakehouse = request.app.state.lakehouse
    if on_error is not None and schema is None:
        raise RequestValidationFailed("on_error needs schema=<name>", field="on_error")
    if schema is not None:  # resolved before the body is read: an unknown schema is 404 and nothing is spooled
        await run_in_threadpool(lakehouse.row_screen, schema, on_error or "reject")
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None:
        validate_idempotency_key(idempotency_key)
    directory = await run_in_threadpool(spool_dir, lakehouse.settings)
    spool, body_hash = await _spool(request, directory, digest=idempotency_key is not None)
    keys = [k.strip() for k in key.split(",") if k.strip()] if key else []
    try:

        async def work(token: str | None) -> Answer:
            result = await run_in_threadpool(
                lambda: lakehouse.ingest(
                    name,
                    spool,
                    format=fmt,
                    mode=mode,
                    key=keys,
                    create=create,
                    schema=schema,
                    on_error=on_error or "reject",
                    commit_tag=token,
                )
            )
            return 200, result.summary(), {}

        async def recover(token: str) -> Answer | None:
            found = await run_in_threadpool(Ingestor(lakehouse.lake).find_commit, token)
            return None if found is None else (200, found, {})

        parts = [name, mode, sorted(keys), create, fmt, body_hash, schema, on_error]
        return await idempotent(request, parts, work, recover=recover)
    finally:
        spool.unlink(missing_ok=True)
