"""queryd: ``POST /v1/sql``: read-only SQL over the lake in the sandbox, with time travel; ``/v1/queries``: the
queries running in this process, and cancelling one."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from lakehouse.apikeys import ApiKey
from lakehouse.core import Lakehouse
from lakehouse.errors import InvalidSql, NotAcceptable
from lakehouse.server.auth import require, sql_grant
from lakehouse.server.self_observe import note
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.model import CancelledQuery, RunningQueries, SqlAnswer, SqlRequest

router = APIRouter(tags=["sql"])
QUERY_ID_HEADER = "X-Lakehouse-Query-Id"


STREAM_TYPES = {
    "application/x-ndjson": "ndjson",
    "text/csv": "csv",
    "application/vnd.apache.arrow.stream": "arrow",
    "application/vnd.apache.parquet": "parquet",
}


def _negotiate(accept: str | None) -> str | None:
    """The streamed format the Accept header asks for, or None for JSON."""
    if not accept:
        return None
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("application/json", "application/*", "*/*", ""):
            return None
        if media in STREAM_TYPES:
            return media
    raise NotAcceptable(
        f"Accept {accept!r}: results come as application/json, {', '.join(STREAM_TYPES)}", field="Accept"
    )


@router.post(
    "/v1/sql",
    summary="Run read-only SQL over the lake (JSON, or streamed NDJSON/CSV/Arrow/Parquet by Accept)",
    dependencies=[require("sql")],
    response_model=SqlAnswer,
    responses={
        200: {
            "description": "The result: JSON (SqlAnswer), or streamed in the format Accept names.",
            "content": {
                **{media: {"schema": {"type": "string", "format": "binary"}} for media in STREAM_TYPES},
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def run_sql(body: SqlRequest, request: Request) -> Response:
    if body.snapshot is not None and body.as_of is not None:
        raise InvalidSql("give snapshot or as_of, not both", field="snapshot")
    lakehouse: Lakehouse = request.app.state.lakehouse
    media = _negotiate(request.headers.get("accept"))
    query_id = body.query_id or uuid.uuid4().hex
    owner = _owner(request)
    grant = sql_grant(request)
    if media is not None:
        snapshot_id, chunks = await run_in_threadpool(
            lambda: lakehouse.queries.stream(
                body.sql,
                body.params,
                fmt=STREAM_TYPES[media],
                snapshot=body.snapshot,
                as_of=body.as_of,
                timeout_ms=body.timeout_ms,
                query_id=query_id,
                owner=owner,
                grant=grant,
            )
        )
        headers = {"X-Lakehouse-Snapshot": str(snapshot_id), QUERY_ID_HEADER: query_id}
        note(request, snapshot_id=snapshot_id, query_id=query_id)
        return StreamingResponse(chunks, media_type=media, headers=headers)
    result = await run_in_threadpool(
        lambda: lakehouse.sql(
            body.sql,
            body.params,
            snapshot=body.snapshot,
            as_of=body.as_of,
            max_rows=body.max_rows,
            timeout_ms=body.timeout_ms,
            query_id=query_id,
            owner=owner,
            grant=grant,
        )
    )
    note(request, snapshot_id=result.snapshot_id, row_count=len(result.rows), query_id=query_id)
    # the body is JSON-ready already: skip FastAPI's re-encoding of every row
    return JSONResponse(result.to_dict(), headers={QUERY_ID_HEADER: query_id})


def _owner(request: Request) -> str | None:
    """Whose queries a request may see and cancel: its key's (None: every query, with auth off or an admin key)."""
    key: ApiKey | None = getattr(request.state, "api_key", None)
    if key is None or "admin" in key.scopes:
        return None
    return key.id


@router.get("/v1/queries", summary="The queries running in this process", dependencies=[require("sql")])
async def list_queries(request: Request) -> RunningQueries:
    lakehouse: Lakehouse = request.app.state.lakehouse
    owner = _owner(request)
    return RunningQueries(items=[q.info() for q in await run_in_threadpool(lambda: lakehouse.queries.running(owner))])


@router.delete(
    "/v1/queries/{query_id}", status_code=202, summary="Cancel a running query", dependencies=[require("sql")]
)
async def cancel_query(query_id: str, request: Request) -> CancelledQuery:
    lakehouse: Lakehouse = request.app.state.lakehouse
    owner = _owner(request)
    cancelled = await run_in_threadpool(lambda: lakehouse.queries.cancel(query_id, owner))
    return CancelledQuery(query_id=cancelled.id, cancelled=True)
