"""ingestd: ``POST /v1/datasets/{name}/ingest``: the body is spooled to disk, then written as one lake commit."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from lakehouse.core import Lakehouse
from lakehouse.server.auth import require
from lakehouse.tables.ingest import Ingestor, format_for

router = APIRouter(tags=["ingest"])
_BATCH = 1024 * 1024


async def _spool(request: Request, directory: Path) -> Path:
    """Stream the body to a file in the spool directory, a MiB at a time."""
    await anyio.to_thread.run_sync(lambda: directory.mkdir(parents=True, exist_ok=True))
    path = directory / f"{uuid.uuid4().hex}.body"
    handle = await anyio.to_thread.run_sync(path.open, "xb")
    try:
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= _BATCH:
                await anyio.to_thread.run_sync(handle.write, pending)
                pending.clear()
        if pending:
            await anyio.to_thread.run_sync(handle.write, pending)
    except BaseException:
        handle.close()
        path.unlink(missing_ok=True)
        raise
    handle.close()
    return path


@router.post(
    "/v1/datasets/{name}/ingest",
    summary="Ingest CSV, NDJSON, JSON, Parquet or Arrow IPC into a dataset (one commit)",
    dependencies=[require("write")],
)
async def ingest(
    name: str,
    request: Request,
    mode: Literal["append", "overwrite", "upsert"] = Query("append"),
    key: str | None = Query(None, description="Key column(s) for upsert, comma-separated."),
    create: bool = Query(False, description="Create the dataset from the data's schema if it does not exist."),
) -> dict[str, Any]:
    fmt = format_for(request.headers.get("content-type"))
    lakehouse: Lakehouse = request.app.state.lakehouse
    settings = lakehouse.settings
    spool = await _spool(request, settings.in_data_dir(settings.lake.spool_path))
    try:
        ingestor = Ingestor(await run_in_threadpool(lambda: lakehouse.lake))
        keys = [k.strip() for k in key.split(",") if k.strip()] if key else []
        result = await run_in_threadpool(
            lambda: ingestor.ingest_file(name, spool, fmt, mode=mode, key=keys, create=create)
        )
    finally:
        spool.unlink(missing_ok=True)
    return result.to_dict()
