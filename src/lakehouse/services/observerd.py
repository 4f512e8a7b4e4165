"""observerd: what agents did. ``POST /v1/traces`` takes OTLP over HTTP (protobuf or JSON, gzip or not) and answers
in the request's encoding; ``POST /v1/observe/spans`` and ``/v1/observe/scores`` take the JSON API's batches;
``GET /v1/traces``, ``/v1/traces/{trace_id}`` and ``/v1/sessions/{session_id}`` read them back.

Who may pass: writes need the ``write`` scope, reads ``read``; a key bound to lake namespaces needs ``observe``
among them. A key bound to a tenant writes spans and scores stamped with its tenant and reads only those (another
tenant's trace is answered as a missing one).
"""

from __future__ import annotations

import zlib
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from lakehouse.core import Lakehouse
from lakehouse.errors import MalformedInput, PayloadTooLarge, UnsupportedMediaType
from lakehouse.inputs import loads
from lakehouse.observe import (
    Ingested,
    ObserveStore,
    ScoreBatch,
    ScoresRecorded,
    Session,
    SpanBatch,
    Trace,
    TraceQuery,
    TraceSummary,
)
from lakehouse.observe.model import TRACE_ID_PATTERN, Status
from lakehouse.observe.otlp import JSON, PROTOBUF
from lakehouse.paging import Page
from lakehouse.server.auth import api_key, check_namespace, require
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.names import OBSERVE_NAMESPACE
from lakehouse.wire import Time

traces_router = APIRouter(prefix="/v1/traces", tags=["observe"])
observe_router = APIRouter(prefix="/v1/observe", tags=["observe"])
sessions_router = APIRouter(prefix="/v1/sessions", tags=["observe"])
OTLP_JSON_EXAMPLE = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]},
            "scopeSpans": [
                {
                    "scope": {"name": "my-agent"},
                    "spans": [
                        {
                            "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                            "spanId": "00f067aa0ba902b7",
                            "name": "chat gpt-4o",
                            "kind": 3,
                            "startTimeUnixNano": "1769860800000000000",
                            "endTimeUnixNano": "1769860801250000000",
                            "attributes": [
                                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "812"}},
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}
TraceIdPath = Annotated[str, Path(description="32 lowercase hex digits.", pattern=TRACE_ID_PATTERN)]


def _store(request: Request) -> ObserveStore:
    """The store, after the key is held to the observe namespace."""
    check_namespace(request, OBSERVE_NAMESPACE, "observation")
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse.observe


def _tenant(request: Request) -> str | None:
    key = api_key(request)
    return None if key is None else key.tenant


def _max_body(request: Request) -> int:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse.settings.server.max_body_bytes


async def _otlp_body(request: Request) -> tuple[bytes, str]:
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r}: OTLP over HTTP is {PROTOBUF} or {JSON}", field="Content-Type"
        )
    body = await request.body()
    encoding = (request.headers.get("content-encoding") or "identity").strip().lower()
    if encoding == "gzip":
        body = _gunzip(body, _max_body(request))
    elif encoding not in ("identity", ""):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r}: send gzip or none", field="Content-Encoding")
    if not body:
        return body, media
    if media == JSON:
        loads(body, "body")  # the rules every JSON body is held to: no lone surrogate or NUL, finite, not too deep
    return body, media


def _gunzip(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise MalformedInput(f"the body is not gzip: {exc}", field="body") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the body inflates past the limit of {limit} bytes", field="body")
    if not inflater.eof:
        raise MalformedInput("the gzip body ends early", field="body")
    return out


@traces_router.post(
    "",
    summary="OTLP/HTTP trace export (protobuf or JSON, gzip): spans recorded, answer in the request's encoding",
    dependencies=[require("write")],
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                JSON: {
                    "schema": {
                        "type": "object",
                        "description": "OTLP JSON: an ExportTraceServiceRequest (ids in hex).",
                        "properties": {"resourceSpans": {"type": "array", "items": {"type": "object"}}},
                    },
                    "example": OTLP_JSON_EXAMPLE,
                },
            },
        },
        "responses": {
            "200": {
                "description": "An ExportTraceServiceResponse (partial_success when spans were refused).",
                "content": {
                    PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                    JSON: {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "partialSuccess": {
                                    "type": "object",
                                    "properties": {
                                        "rejectedSpans": {"type": "string", "description": "A 64-bit count."},
                                        "errorMessage": {"type": "string"},
                                    },
                                }
                            },
                        }
                    },
                },
            }
        },
    },
)
async def export_traces(request: Request) -> Response:
    store = _store(request)
    body, media = await _otlp_body(request)
    tenant = _tenant(request)
    answer, ingested = await run_in_threadpool(store.ingest_otlp, body, media, tenant)
    headers = {"X-Spans-Accepted": str(ingested.accepted), "X-Spans-Rejected": str(ingested.rejected)}
    return Response(content=answer, media_type=media, headers=headers)


@traces_router.get("", summary="Traces, newest first, filtered and paged", dependencies=[require("read")])
async def list_traces(
    request: Request,
    start: Annotated[Time | None, Query(description="Traces that started at or after this time.")] = None,
    end: Annotated[Time | None, Query(description="Traces that started before this time.")] = None,
    session_id: Annotated[str | None, Query(max_length=1000)] = None,
    user_id: Annotated[str | None, Query(max_length=1000)] = None,
    agent_name: Annotated[str | None, Query(max_length=1000)] = None,
    model: Annotated[str | None, Query(max_length=1000, description="Traces with a span of this model.")] = None,
    status: Annotated[Status | None, Query()] = None,
    min_cost: Annotated[float | None, Query(ge=0, description="US dollars, at least.")] = None,
    min_duration_ms: Annotated[float | None, Query(ge=0)] = None,
    cursor: Annotated[str | None, Query(description="The `next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Page[TraceSummary]:
    query = TraceQuery(
        start=start,
        end=end,
        session_id=session_id,
        user_id=user_id,
        agent_name=agent_name,
        model=model,
        status=status,
        min_cost=min_cost,
        min_duration_ms=min_duration_ms,
        cursor=cursor,
        limit=limit,
    )
    store = _store(request)
    return await run_in_threadpool(store.traces, query, _tenant(request))


@traces_router.get(
    "/{trace_id}",
    summary="A trace: its spans as a tree with durations, tokens and cost rolled up, and its scores",
    dependencies=[require("read")],
)
async def get_trace(trace_id: TraceIdPath, request: Request) -> Trace:
    store = _store(request)
    return await run_in_threadpool(store.trace, trace_id, _tenant(request))


@sessions_router.get(
    "/{session_id}",
    summary="A session: its traces in the order they started, and totals",
    dependencies=[require("read")],
)
async def get_session(session_id: Annotated[str, Path(max_length=1000)], request: Request) -> Session:
    store = _store(request)
    return await run_in_threadpool(store.session, session_id, _tenant(request))


@observe_router.post("/spans", summary="Record spans (JSON API; one commit)", dependencies=[require("write")])
async def record_spans(body: SpanBatch, request: Request) -> Ingested:
    store = _store(request)
    return await run_in_threadpool(store.ingest_batch, body, _tenant(request))


@observe_router.post(
    "/scores", summary="Record scores of traces or spans (one commit)", dependencies=[require("write")]
)
async def record_scores(body: ScoreBatch, request: Request) -> ScoresRecorded:
    store = _store(request)
    return await run_in_threadpool(store.record_scores, body, _tenant(request))


router = APIRouter()  # the service's routes: traces, sessions and the JSON API (each route keeps its full path)
router.routes.extend([*traces_router.routes, *sessions_router.routes, *observe_router.routes])
