"""ingestd: ``POST /v1/datasets/{name}/ingest``: the body is spooled to disk, then written as one lake commit."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from lakehouse.core import Lakehouse
from lakehouse.errors import RequestValidationFailed
from lakehouse.idempotency import IdempotencyStore
from lakehouse.idempotency import validate_key as validate_idempotency_key
from lakehouse.server.auth import DATASET_NAMESPACE, require
from lakehouse.server.idempotent import ABANDONED_AFTER_SECONDS, REPLAYED, owner_of
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.ingest import Ingestor, format_for
from lakehouse.tables.spool import new_file

router = APIRouter(tags=["ingest"])
_BATCH = 1024 * 1024


async def _spool(request: Request, directory: Path, *, digest: bool) -> tuple[Path, str | None]:
    """Stream the body to a file in the spool directory, a MiB at a time, writing one MiB in a thread while the next
    is received; returns the file and, when asked for (an idempotent request compares bodies), its sha256, computed
    in the writer thread."""
    await anyio.to_thread.run_sync(lambda: directory.mkdir(parents=True, exist_ok=True))
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


@router.post(
    "/v1/datasets/{name}/ingest",
    summary="Ingest CSV, NDJSON, JSON, Parquet or Arrow IPC into a dataset (one commit)",
    dependencies=[require("write"), DATASET_NAMESPACE],
)
async def ingest(
    name: str,
    request: Request,
    mode: Literal["append", "overwrite", "upsert"] = Query("append"),
    key: str | None = Query(None, description="Key column(s) for upsert, comma-separated."),
    create: bool = Query(False, description="Create the dataset from the data's schema if it does not exist."),
    schema: str | None = Query(None, description='Check every row against this schema ("name" or "name@version").'),
    on_error: Literal["reject", "skip"] | None = Query(
        None, description="With schema: reject (default) refuses the body if any row fails; skip writes the others."
    ),
) -> Any:
    fmt = format_for(request.headers.get("content-type"))
    lakehouse: Lakehouse = request.app.state.lakehouse
    if on_error is not None and schema is None:
        raise RequestValidationFailed("on_error needs schema=<name>", field="on_error")
    screen = await run_in_threadpool(lakehouse.row_screen, schema, on_error or "reject") if schema is not None else None
    settings = lakehouse.settings
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None:
        validate_idempotency_key(idempotency_key)
    spool, body_hash = await _spool(
        request, settings.in_data_dir(settings.lake.spool_path), digest=idempotency_key is not None
    )
    try:
        ingestor = Ingestor(await run_in_threadpool(lambda: lakehouse.lake))
        keys = [k.strip() for k in key.split(",") if k.strip()] if key else []

        def run(tag: str | None) -> dict[str, Any]:
            return ingestor.ingest_file(
                name, spool, fmt, mode=mode, key=keys, create=create, commit_tag=tag, screen=screen
            ).to_dict()

        if idempotency_key is None:
            return await run_in_threadpool(run, None)
        owner = owner_of(request)
        request_hash = hashlib.sha256(
            json.dumps([name, mode, sorted(keys), create, fmt, body_hash, schema, on_error]).encode()
        ).hexdigest()
        return await _idempotent(lakehouse, ingestor, owner, idempotency_key, request_hash, run)
    finally:
        spool.unlink(missing_ok=True)


async def _idempotent(
    lakehouse: Lakehouse,
    ingestor: Ingestor,
    owner: str,
    key: str,
    request_hash: str,
    run: Callable[[str | None], dict[str, Any]],
) -> Any:
    """Run ``run`` at most once per (owner, key); retries get the first response."""
    store = IdempotencyStore(lakehouse.opsdb)
    claim = await run_in_threadpool(store.claim, owner, key, request_hash)
    if claim.response is not None:
        return JSONResponse(claim.response, headers=REPLAYED)
    if claim.pending_retry:
        found = await run_in_threadpool(ingestor.find_commit, claim.token)
        if found is not None:  # the first attempt committed but died before recording its response
            snapshot_id, summary = found
            response = {"replayed_from_commit": True, "snapshot_id": snapshot_id, **summary}
            await run_in_threadpool(store.complete, claim, response)
            return JSONResponse(response, headers=REPLAYED)
        if claim.pending_seconds < ABANDONED_AFTER_SECONDS:  # no commit in the lake: taken over
            raise store.in_progress()
        await run_in_threadpool(store.take_over, claim)
    try:
        response = await run_in_threadpool(run, claim.token)
    except BaseException:
        await run_in_threadpool(store.release, claim)
        raise
    await run_in_threadpool(store.complete, claim, response)
    return response
