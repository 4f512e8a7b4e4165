"""What observation is on the wire: spans and scores sent through the JSON API, and what the read routes answer
(a trace as a tree with its totals rolled up, trace summaries, a session's traces, scores).

Requests (``SpanIn``, ``SpanBatch``, ``ScoreIn``, ``ScoreBatch``, ``TraceQuery``) are the one definition each route,
the store, the HTTP client and the CLI use. Answers: ``Ingested``, ``ScoresRecorded``, ``Span``, ``SpanNode``,
``Trace``, ``TraceSummary`` (listed in a ``Page``), ``Session``, ``Score``, ``Expired``. OTLP requests are decoded by
``observe.otlp`` into the same ``SpanIn``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, JsonValue, model_validator

from lakehouse.observe.conventions import KINDS
from lakehouse.wire import Answer, NotBlank, Time, WireModel, refuse

TRACE_ID_PATTERN = r"^[0-9a-f]{32}$"
SPAN_ID_PATTERN = r"^[0-9a-f]{16}$"
MAX_SPANS = 10_000  # spans in one request (JSON API and OTLP)
MAX_SCORES = 1_000
MAX_NAME = 1_000
MAX_TEXT = 1_000_000  # input / output / a string attribute, in characters

Kind = Literal["llm", "embedding", "tool", "retriever", "agent", "chain", "memory", "guardrail", "evaluator", "other"]
Status = Literal["unset", "ok", "error"]
Source = Literal["human", "model", "code"]
DataType = Literal["numeric", "boolean", "categorical"]
TraceId = Annotated[str, Field(pattern=TRACE_ID_PATTERN, description="32 lowercase hex digits, not all zero.")]
SpanId = Annotated[str, Field(pattern=SPAN_ID_PATTERN, description="16 lowercase hex digits, not all zero.")]
Name = Annotated[NotBlank, Field(max_length=MAX_NAME)]
Label = Annotated[NotBlank, Field(max_length=MAX_NAME)]
Attributes = dict[str, JsonValue]

assert set(KINDS) == set(Kind.__args__)  # type: ignore[attr-defined]


class SpanEvent(WireModel):
    name: Name
    time: Time
    attributes: Attributes = Field(default_factory=dict)


class SpanIn(WireModel):
    """One span, as the JSON API takes it (OTLP spans are decoded into this too). Columns left out are read from
    ``attributes`` by the GenAI and OpenInference conventions; given, they win."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "span_id": "00f067aa0ba902b7",
                    "name": "chat gpt-4o",
                    "kind": "llm",
                    "start_time": "2026-01-31T12:00:00Z",
                    "end_time": "2026-01-31T12:00:01.250Z",
                    "model": "gpt-4o",
                    "input_tokens": 812,
                    "output_tokens": 95,
                    "session_id": "s-1",
                }
            ]
        }
    )

    trace_id: TraceId
    span_id: SpanId
    parent_span_id: SpanId | None = None
    name: Name
    kind: Kind | None = Field(None, description="Left out: from openinference.span.kind or gen_ai.operation.name.")
    start_time: Time
    end_time: Time
    status: Status = "unset"
    status_message: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    model: Label | None = None
    provider: Label | None = None
    input_tokens: Annotated[int, Field(ge=0, lt=2**63)] | None = None
    output_tokens: Annotated[int, Field(ge=0, lt=2**63)] | None = None
    cost: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        None, description="US dollars; left out, priced from the model's tokens by the price table."
    )
    input: JsonValue = Field(None, description="Text or JSON.")
    output: JsonValue = Field(None, description="Text or JSON.")
    session_id: Label | None = None
    user_id: Label | None = None
    agent_name: Label | None = None
    attributes: Attributes = Field(default_factory=dict)
    resource: Attributes = Field(default_factory=dict, description="The resource's attributes (service.name, ...).")
    events: Annotated[list[SpanEvent], Field(max_length=10_000)] = Field(default_factory=list)
    scope_name: Label | None = Field(None, description="The instrumentation scope that made the span.")
    span_kind: Literal["unspecified", "internal", "server", "client", "producer", "consumer"] = "unspecified"

    @model_validator(mode="after")
    def _ids_and_times(self) -> SpanIn:
        if self.trace_id == "0" * 32:
            raise refuse("trace_id is all zero (an invalid id)", "trace_id")
        if self.span_id == "0" * 16:
            raise refuse("span_id is all zero (an invalid id)", "span_id")
        if self.parent_span_id == "0" * 16:
            self.parent_span_id = None
        if self.parent_span_id == self.span_id:
            raise refuse("a span cannot be its own parent", "parent_span_id")
        if self.end_time < self.start_time:
            raise refuse("end_time is before start_time", "end_time")
        return self


class SpanBatch(WireModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "spans": [
                        {
                            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                            "span_id": "00f067aa0ba902b7",
                            "name": "chat gpt-4o",
                            "start_time": "2026-01-31T12:00:00Z",
                            "end_time": "2026-01-31T12:00:01.250Z",
                            "attributes": {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 812},
                        }
                    ]
                }
            ]
        }
    )

    spans: Annotated[list[SpanIn], Field(min_length=1, max_length=MAX_SPANS)]


class Ingested(Answer):
    accepted: int = Field(description="Spans recorded (a span already recorded counts, and is not recorded twice).")
    rejected: int = Field(0, description="Spans refused; the reasons are in errors.")
    errors: list[str] = Field(default_factory=list, description="Why spans were refused, one line each.")
    snapshot_id: int | None = Field(None, description="The lake snapshot that holds them (None: nothing written).")


class ScoreIn(WireModel):
    """A score of a trace, or of one of its spans: a number, a boolean or a category."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "name": "helpfulness", "value": 0.8, "source": "human"}
            ]
        }
    )

    score_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")] | None = Field(
        None, description="Your id for the score: sending it again replaces it (default: a new id)."
    )
    trace_id: TraceId
    span_id: SpanId | None = None
    name: Label
    value: float | bool | Annotated[NotBlank, Field(max_length=MAX_NAME)] = Field(
        description="A number (numeric), true/false (boolean) or a label (categorical)."
    )
    source: Source = "code"
    comment: Annotated[str, Field(max_length=10_000)] | None = None

    @model_validator(mode="after")
    def _finite(self) -> ScoreIn:
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise refuse("a numeric score is a finite number", "value")
        return self


class ScoreBatch(WireModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"scores": [{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "name": "correct", "value": True}]}
            ]
        }
    )

    scores: Annotated[list[ScoreIn], Field(min_length=1, max_length=MAX_SCORES)]


class Score(Answer):
    score_id: str
    trace_id: str
    span_id: str | None = None
    name: str
    data_type: DataType
    value: float | bool | str
    source: Source
    comment: str | None = None
    created_at: datetime


class ScoresRecorded(Answer):
    recorded: int
    score_ids: list[str]
    snapshot_id: int


class Span(Answer):
    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    kind: Kind
    span_kind: str
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status: Status
    status_message: str | None = None
    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    cost_source: Literal["span", "price_table"] | None = None
    input: str | None = None
    output: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    agent_name: str | None = None
    service_name: str | None = None
    scope_name: str | None = None
    attributes: Attributes = Field(default_factory=dict)
    resource: Attributes = Field(default_factory=dict)
    events: list[SpanEvent] = Field(default_factory=list)


class Totals(Answer):
    spans: int
    input_tokens: int
    output_tokens: int
    cost: float
    errors: int


class SpanNode(Span):
    """A span with its children, and totals rolled up over its subtree (itself included)."""

    children: list[SpanNode] = Field(default_factory=list)
    totals: Totals


class TraceSummary(Answer):
    trace_id: str
    name: str | None = Field(description="The root span's name (the earliest span's when no root has arrived).")
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status: Status = Field(description="error when any span failed, else ok when any span says so, else unset.")
    session_id: str | None = None
    user_id: str | None = None
    agent_name: str | None = None
    models: list[str]
    totals: Totals


class Trace(TraceSummary):
    spans: list[SpanNode] = Field(description="The roots (spans whose parent is not in the trace), children nested.")
    scores: list[Score]


class TraceQuery(WireModel):
    """Filters of ``GET /v1/traces`` (every one optional; all given must hold)."""

    start: Time | None = Field(None, description="Traces that started at or after this time.")
    end: Time | None = Field(None, description="Traces that started before this time.")
    session_id: Label | None = None
    user_id: Label | None = None
    agent_name: Label | None = None
    model: Label | None = Field(None, description="Traces with a span of this model.")
    status: Status | None = None
    min_cost: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    min_duration_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 50
    cursor: str | None = None


class Session(Answer):
    session_id: str
    traces: list[TraceSummary] = Field(description="In the order they started.")
    totals: Totals
    start_time: datetime
    end_time: datetime


class Expired(Answer):
    spans: int = Field(description="Spans removed.")
    scores: int = Field(description="Scores removed (those of the removed traces).")
    snapshots_expired: int = Field(description="Lake snapshots expired, so no time travel reaches what was removed.")
    files_deleted: int = Field(description="Data files deleted.")
