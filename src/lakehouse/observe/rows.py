"""The rows of ``observe.spans`` and ``observe.scores``: their columns (the lake tables' DDL), the record every
path in makes of a span (``SpanRecord``: from the JSON API's ``SpanIn`` or from an OTLP span), with its columns
read by the conventions, masked by the redactor and priced by the price table, and the Arrow table a commit
writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lakehouse.observe.conventions import normalize
from lakehouse.observe.model import ScoreIn, SpanIn
from lakehouse.observe.prices import PriceTable
from lakehouse.observe.redact import Redactor
from lakehouse.tables.lake import CATALOG
from lakehouse.tables.names import OBSERVE_NAMESPACE

SPAN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("parent_span_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("span_kind", "VARCHAR"),
    ("start_time", "TIMESTAMPTZ"),
    ("end_time", "TIMESTAMPTZ"),
    ("duration_ms", "DOUBLE"),
    ("status", "VARCHAR"),
    ("status_message", "VARCHAR"),
    ("model", "VARCHAR"),
    ("provider", "VARCHAR"),
    ("input_tokens", "BIGINT"),
    ("output_tokens", "BIGINT"),
    ("total_tokens", "BIGINT"),
    ("cost", "DOUBLE"),
    ("cost_source", "VARCHAR"),
    ("input", "VARCHAR"),
    ("output", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("agent_name", "VARCHAR"),
    ("service_name", "VARCHAR"),
    ("scope_name", "VARCHAR"),
    ("attributes", "JSON"),
    ("resource", "JSON"),
    ("events", "JSON"),
    ("links", "JSON"),
    ("tenant", "VARCHAR"),
    ("ingested_at", "TIMESTAMPTZ"),
)
SCORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("score_id", "VARCHAR"),
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("data_type", "VARCHAR"),
    ("value_number", "DOUBLE"),
    ("value_bool", "BOOLEAN"),
    ("value_text", "VARCHAR"),
    ("source", "VARCHAR"),
    ("comment", "VARCHAR"),
    ("tenant", "VARCHAR"),
    ("created_at", "TIMESTAMPTZ"),
)
SCHEMA = OBSERVE_NAMESPACE  # the lake schema of the observe tables
SPANS = f"{CATALOG}.{SCHEMA}.spans"
SCORES = f"{CATALOG}.{SCHEMA}.scores"
ROW_GROUP = 16_384  # rows per Parquet row group of the observe tables

JSON_COLUMNS = frozenset({"attributes", "resource", "events", "links"})
# what a commit needs of each row besides its Arrow table: the duplicate check's key and the trace index's fields
INDEX_FIELDS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "start_time",
    "end_time",
    "status",
    "model",
    "input_tokens",
    "output_tokens",
    "cost",
    "session_id",
    "user_id",
    "agent_name",
    "tenant",
)


def _json(value: Any) -> str:
    """Compact JSON text. orjson writes it (an order of magnitude faster); what orjson would write differently is
    left to the json module: integers beyond 64 bits (orjson refuses them) and non-finite floats, which orjson
    writes as null and json refuses (a span holding one is refused with its reason, as it always was)."""
    if not value:
        return "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else _slow_json(value)
    try:
        text = orjson.dumps(value, default=str)
    except (orjson.JSONEncodeError, TypeError):
        return _slow_json(value)
    if b"null" in text:  # None, or a NaN or infinity that orjson wrote as null
        return _slow_json(value)
    return text.decode()


def _slow_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)


class RowMaker:
    """Makes the rows of one ingest: masked by ``redactor``, priced by ``prices``, stamped with ``tenant`` and
    ``now``. The resource an export's spans share is masked and encoded once for all of them."""

    def __init__(self, redactor: Redactor, prices: PriceTable, tenant: str | None, now: datetime) -> None:
        self.redactor = redactor
        self.prices = prices
        self.tenant = tenant
        self.now = now
        self._resource: tuple[dict[str, Any], dict[str, Any], str, str | None] | None = None

    def resource(self, resource: dict[str, Any]) -> tuple[dict[str, Any], str, str | None]:
        """The resource masked, its JSON and its ``service.name``, computed once per resource object."""
        known = self._resource
        if known is not None and known[0] is resource:
            return known[1], known[2], known[3]
        masked = self.redactor.attributes(resource)
        service = masked.get("service.name")
        entry = (resource, masked, _json(masked), service if isinstance(service, str) else None)
        self._resource = entry
        return entry[1], entry[2], entry[3]


@dataclass
class SpanRecord:
    """One span as the paths in hand it to the store (before its columns are read)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_time: datetime
    end_time: datetime
    status: str = "unset"
    status_message: str | None = None
    span_kind: str = "unspecified"
    scope_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    given: dict[str, Any] = field(default_factory=dict)  # columns the JSON API named (they win over attributes)

    @classmethod
    def from_wire(cls, span: SpanIn) -> SpanRecord:
        given = {
            name: getattr(span, name)
            for name in ("kind", "model", "provider", "input_tokens", "output_tokens", "cost")
            if getattr(span, name) is not None
        }
        for name in ("input", "output"):
            value = getattr(span, name)
            if value is not None:
                given[name] = value if isinstance(value, str) else _json(value)
        for name in ("session_id", "user_id", "agent_name"):
            if getattr(span, name) is not None:
                given[name] = getattr(span, name)
        return cls(
            trace_id=span.trace_id,
            span_id=span.span_id,
            parent_span_id=span.parent_span_id,
            name=span.name,
            start_time=span.start_time,
            end_time=span.end_time,
            status=span.status,
            status_message=span.status_message,
            span_kind=span.span_kind,
            scope_name=span.scope_name,
            attributes=dict(span.attributes),
            resource=dict(span.resource),
            events=[
                {"name": e.name, "time": e.time.isoformat(), "attributes": dict(e.attributes)} for e in span.events
            ],
            given=given,
        )

    def row(self, maker: RowMaker) -> dict[str, Any]:
        """The span's row: attributes masked first, then every column read from what is left."""
        redactor, prices = maker.redactor, maker.prices
        attributes = redactor.attributes(self.attributes)
        resource, resource_json, service = maker.resource(self.resource)
        events = [
            {**e, "name": redactor.text(e["name"]), "attributes": redactor.attributes(e.get("attributes") or {})}
            for e in self.events
        ]
        links = [{**link, "attributes": redactor.attributes(link.get("attributes") or {})} for link in self.links]
        read = normalize(attributes, events, resource, self.given.get("kind"))
        columns: dict[str, Any] = {
            "model": read.model,
            "provider": read.provider,
            "input_tokens": read.input_tokens,
            "output_tokens": read.output_tokens,
            "cost": read.cost,
            "input": read.input,
            "output": read.output,
            "session_id": read.session_id,
            "user_id": read.user_id,
            "agent_name": read.agent_name,
        }
        for name, value in self.given.items():
            if name != "kind":
                columns[name] = redactor.text(value) if isinstance(value, str) else value
        input_tokens, output_tokens = columns["input_tokens"], columns["output_tokens"]
        total = read.total_tokens
        if "input_tokens" in self.given or "output_tokens" in self.given or total is None:
            total = (
                None if input_tokens is None and output_tokens is None else (input_tokens or 0) + (output_tokens or 0)
            )
        cost, cost_source = columns["cost"], "span"
        if cost is None:
            cost = prices.cost(columns["model"], input_tokens, output_tokens)
            cost_source = "price_table"
        return {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "name": redactor.text(self.name),
            "kind": "llm" if read.kind == "other" and "model" in self.given else read.kind,
            "span_kind": self.span_kind,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration_ms": (self.end_time - self.start_time).total_seconds() * 1000.0,
            "status": self.status,
            "status_message": redactor.text(self.status_message),
            "model": columns["model"],
            "provider": columns["provider"],
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": total,
            "cost": cost,
            "cost_source": None if cost is None else cost_source,
            "input": redactor.text(columns["input"]),
            "output": redactor.text(columns["output"]),
            "session_id": columns["session_id"],
            "user_id": columns["user_id"],
            "agent_name": columns["agent_name"],
            "service_name": service,
            "scope_name": self.scope_name,
            "attributes": _json(attributes),
            "resource": resource_json,
            "events": _json(events),
            "links": _json(links),
            "tenant": maker.tenant,
            "ingested_at": maker.now,
        }


def storable(row: dict[str, Any]) -> dict[str, Any]:
    """Refuse a row whose text the lake cannot hold (a NUL character)."""
    for name, value in row.items():
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{name} holds a NUL character")
    return row


@dataclass
class Prepared:
    """Spans made ready for a commit: their rows (the fields a commit reads, ``INDEX_FIELDS`` at least), the same
    rows as an Arrow table, and a reason for each span refused."""

    rows: list[dict[str, Any]]
    table: Any  # pyarrow.Table, or None when no row was kept
    refused: list[str]


def prepare(records: Iterable[SpanRecord], maker: RowMaker, refused: Sequence[str] = ()) -> Prepared:
    """Each record's row (a record whose row cannot be stored is refused with its reason) and their table."""
    reasons = list(refused)
    rows = []
    for record in records:
        try:
            rows.append(storable(record.row(maker)))
        except ValueError as exc:
            reasons.append(f"span {record.span_id}: {exc}")
    return Prepared(rows=rows, table=arrow_table(rows, SPAN_COLUMNS) if rows else None, refused=reasons)


def score_row(score: ScoreIn, score_id: str, redactor: Redactor, tenant: str | None, now: datetime) -> dict[str, Any]:
    """A score's row: a number in value_number, true/false in value_bool (and 1/0 in value_number, so averages work
    across both), a label in value_text."""
    value = score.value
    number: float | None
    if isinstance(value, bool):
        data_type, number = "boolean", 1.0 if value else 0.0
    elif isinstance(value, str):
        data_type, number = "categorical", None
    else:
        data_type, number = "numeric", float(value)
    return {
        "score_id": score_id,
        "trace_id": score.trace_id,
        "span_id": score.span_id,
        "name": score.name,
        "data_type": data_type,
        "value_number": number,
        "value_bool": value if isinstance(value, bool) else None,
        "value_text": redactor.text(value) if isinstance(value, str) else None,
        "source": score.source,
        "comment": redactor.text(score.comment),
        "tenant": tenant,
        "created_at": now,
    }


def arrow_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> Any:
    """The rows as a pyarrow Table with the columns' types (JSON columns as text, cast by the INSERT)."""
    import pyarrow as pa

    types = {
        "VARCHAR": pa.string(),
        "JSON": pa.string(),
        "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
        "DOUBLE": pa.float64(),
        "BIGINT": pa.int64(),
        "BOOLEAN": pa.bool_(),
    }
    return pa.table({name: pa.array([r[name] for r in rows], types[kind]) for name, kind in columns})


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_from_nanos(nanos: int) -> datetime:
    """A Unix time in nanoseconds (OTLP's fixed64: at most the year 2554) as a UTC datetime, to the microsecond."""
    return _EPOCH + timedelta(microseconds=nanos // 1000)
