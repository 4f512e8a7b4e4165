"""Client methods for observation: /v1/traces (OTLP export and reads), /v1/sessions and /v1/observe (the JSON
API for spans and scores)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from lakehouse.client._http import Transport
from lakehouse.observe import (
    Ingested,
    ScoreBatch,
    ScoreIn,
    ScoresRecorded,
    Session,
    SpanBatch,
    SpanIn,
    Trace,
    TraceQuery,
    TraceSummary,
)
from lakehouse.paging import Page

ROUTES = {
    ("POST", "/v1/traces"),
    ("GET", "/v1/traces"),
    ("GET", "/v1/traces/{trace_id}"),
    ("GET", "/v1/sessions/{session_id}"),
    ("POST", "/v1/observe/spans"),
    ("POST", "/v1/observe/scores"),
}


class Observe:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def record_spans(self, spans: Sequence[SpanIn | dict[str, Any]]) -> Ingested:
        """Record spans (one commit); columns left out are read from their attributes."""
        batch = SpanBatch.checked({"spans": [s.model_dump() if isinstance(s, SpanIn) else s for s in spans]})
        return self._t.call("POST", "/v1/observe/spans", Ingested, body=batch)

    def record_scores(self, scores: Sequence[ScoreIn | dict[str, Any]]) -> ScoresRecorded:
        """Scores of traces or spans: numbers, booleans or labels."""
        batch = ScoreBatch.checked({"scores": [s.model_dump() if isinstance(s, ScoreIn) else s for s in scores]})
        return self._t.call("POST", "/v1/observe/scores", ScoresRecorded, body=batch)

    def export_otlp(self, body: bytes, content_type: str = "application/x-protobuf") -> bytes:
        """Send an OTLP ExportTraceServiceRequest as it is (protobuf or OTLP JSON); the export response's bytes."""
        return self._t.request("POST", "/v1/traces", content=body, headers={"content-type": content_type}).content

    def trace(self, trace_id: str) -> Trace:
        """The trace as a tree of spans with totals rolled up, and its scores."""
        return self._t.call("GET", f"/v1/traces/{trace_id}", Trace)

    def traces(self, query: TraceQuery | None = None) -> Page[TraceSummary]:
        """One page of trace summaries, newest first (``query.cursor`` for the next)."""
        params = (query or TraceQuery()).model_dump(mode="json", exclude_none=True)
        return self._t.call("GET", "/v1/traces", Page[TraceSummary], params=params)

    def all_traces(self, query: TraceQuery | None = None) -> Iterator[TraceSummary]:
        """Every trace summary the filters let through, page after page."""
        params = (query or TraceQuery()).model_dump(mode="json", exclude_none=True)
        params.pop("cursor", None)
        return self._t.pages_of("/v1/traces", params, TraceSummary)

    def session(self, session_id: str) -> Session:
        """A session's traces in the order they started, and totals."""
        return self._t.call("GET", f"/v1/sessions/{session_id}", Session)
