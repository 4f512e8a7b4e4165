"""Observation: what agents did, as traces, spans and scores in the lake (``observe.spans``, ``observe.scores``),
fed by OTLP (``observe.otlp``) and a JSON API, normalized from the GenAI and OpenInference conventions
(``observe.conventions``), masked (``observe.redact``) and priced (``observe.prices``) before anything is stored."""

from lakehouse.observe.model import (
    Expired,
    Ingested,
    Score,
    ScoreBatch,
    ScoreIn,
    ScoresRecorded,
    Session,
    Span,
    SpanBatch,
    SpanEvent,
    SpanIn,
    SpanNode,
    Totals,
    Trace,
    TraceQuery,
    TraceSummary,
)
from lakehouse.observe.store import ObserveStore

__all__ = [
    "Expired",
    "Ingested",
    "ObserveStore",
    "Score",
    "ScoreBatch",
    "ScoreIn",
    "ScoresRecorded",
    "Session",
    "Span",
    "SpanBatch",
    "SpanEvent",
    "SpanIn",
    "SpanNode",
    "Totals",
    "Trace",
    "TraceQuery",
    "TraceSummary",
]
