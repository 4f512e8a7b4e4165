"""OTLP over HTTP: an ``ExportTraceServiceRequest`` in protobuf (``application/x-protobuf``) or in OTLP's JSON
encoding (``application/json``: lowerCamelCase keys, trace and span ids as hex, 64-bit numbers as strings or
numbers), decoded with ``opentelemetry-proto``'s generated classes, and the ``ExportTraceServiceResponse`` in the
request's own encoding.

``decode`` turns each span into a ``SpanRecord`` or a refusal (missing or malformed ids, no start time, end before
start): refused spans are counted in ``partial_success`` with the reasons, the others are recorded. A body that is
not an export request at all is refused whole (400 ``malformed_input``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from lakehouse.errors import MalformedInput, PayloadTooLarge
from lakehouse.observe.rows import SpanRecord, utc_from_nanos

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_REASONS = 20  # reasons listed in partial_success.error_message, at most
_SPAN_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS = {Status.STATUS_CODE_UNSET: "unset", Status.STATUS_CODE_OK: "ok", Status.STATUS_CODE_ERROR: "error"}
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


@dataclass
class Decoded:
    spans: list[SpanRecord] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # one reason per refused span


def parse(body: bytes, media: str) -> ExportTraceServiceRequest:
    """The export request in ``body`` (protobuf or OTLP JSON)."""
    request = ExportTraceServiceRequest()
    if media == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise MalformedInput(f"the body is not an OTLP ExportTraceServiceRequest: {exc}", field="body") from exc
        return request
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedInput(f"the body is not JSON: {exc}", field="body") from exc
    _check_shape(data)
    try:
        json_format.ParseDict(_ids_as_base64(data), request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise MalformedInput(f"the body is not an OTLP JSON export: {exc}", field="body") from exc
    return request


# the containers of an export, each a list of objects: (key, what each item holds)
_SHAPE: dict[str, tuple[str, ...]] = {
    "resourceSpans": ("scopeSpans",),
    "scopeSpans": ("spans",),
    "spans": ("attributes", "events", "links"),
    "events": ("attributes",),
    "links": ("attributes",),
    "attributes": (),
}


def _check_shape(data: Any) -> None:
    """An export is an object whose resourceSpans, scopeSpans, spans, events, links and attributes are lists of
    objects (protobuf's JSON parser lets a string stand for a message; the export format does not)."""
    if not isinstance(data, dict):
        raise MalformedInput("an OTLP JSON export is an object with resourceSpans", field="body")

    def walk(node: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
        for key in keys:
            if key not in node:
                continue
            items = node[key]
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise MalformedInput(f"{where}{key} is a list of objects", field=f"{where}{key}")
            for index, item in enumerate(items):
                walk(item, _SHAPE[key], f"{where}{key}[{index}].")
        for key in ("resource", "scope", "status"):
            if key in node and not isinstance(node[key], dict):
                raise MalformedInput(f"{where}{key} is an object", field=f"{where}{key}")

    walk(data, ("resourceSpans",), "")


def _ids_as_base64(node: Any) -> Any:
    """OTLP JSON writes ids as hex where protobuf's JSON mapping of bytes expects base64: convert them (an id that
    is not hex becomes empty, so its span is refused as having no id)."""
    if isinstance(node, list):
        return [_ids_as_base64(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _ID_FIELDS and isinstance(value, str):
            try:
                out[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                out[key] = ""
        elif key in ("attributes", "value", "values", "kvlistValue", "arrayValue"):
            out[key] = value  # attribute values: left as the sender wrote them
        else:
            out[key] = _ids_as_base64(value)
    return out


def value_of(value: AnyValue, depth: int = 0) -> Any:
    """An attribute value as plain JSON (bytes as base64)."""
    which = value.WhichOneof("value")
    if which == "string_value":  # the common case first
        return value.string_value
    if which is None:
        return None
    if which == "array_value":
        return [value_of(v, depth + 1) for v in value.array_value.values] if depth < 32 else None
    if which == "kvlist_value":
        return attributes_of(value.kvlist_value.values, depth + 1) if depth < 32 else None
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which == "double_value":
        number = value.double_value
        return number if number == number and abs(number) != float("inf") else str(number)
    return getattr(value, which)


def attributes_of(pairs: Any, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        out[pair.key] = value_of(pair.value, depth)
    return out


def _hex(raw: bytes, size: int) -> str | None:
    if len(raw) != size or not any(raw):
        return None
    return binascii.hexlify(raw).decode()


def decode(request: ExportTraceServiceRequest, limit: int) -> Decoded:
    """Every span of the request as a record, or a reason it is refused. More than ``limit`` spans: 413."""
    out = Decoded()
    count = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    if count > limit:
        raise PayloadTooLarge(
            f"{count} spans in one export; at most {limit} (observe.max_spans): export in smaller batches",
            field="resource_spans",
        )
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name or None
            for span in scope_spans.spans:
                record = _record(span, resource, scope_name)
                if isinstance(record, str):
                    out.refused.append(record)
                else:
                    out.spans.append(record)
    return out


def _label(span: Span) -> str:
    return f"span {span.name[:80]!r}"


def _record(span: Span, resource: dict[str, Any], scope_name: str | None) -> SpanRecord | str:
    trace_id, span_id = _hex(span.trace_id, 16), _hex(span.span_id, 8)
    if trace_id is None:
        return f"{_label(span)}: no valid trace_id (16 bytes, not all zero)"
    if span_id is None:
        return f"{_label(span)}: no valid span_id (8 bytes, not all zero)"
    parent = _hex(span.parent_span_id, 8) if span.parent_span_id else None
    if span.parent_span_id and parent is None and any(span.parent_span_id):
        return f"{_label(span)} ({span_id}): parent_span_id is not 8 bytes"
    if not span.start_time_unix_nano:
        return f"{_label(span)} ({span_id}): no start time"
    if span.end_time_unix_nano < span.start_time_unix_nano:
        return f"{_label(span)} ({span_id}): ends before it starts"
    if not span.name.strip():
        return f"span {span_id}: no name"
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent if parent != span_id else None,
        name=span.name,
        start_time=utc_from_nanos(span.start_time_unix_nano),
        end_time=utc_from_nanos(span.end_time_unix_nano),
        status=_STATUS.get(span.status.code, "unset"),
        status_message=span.status.message or None,
        span_kind=_SPAN_KINDS.get(span.kind, "unspecified"),
        scope_name=scope_name,
        attributes=attributes_of(span.attributes),
        resource=resource,
        events=[
            {
                "name": event.name,
                "time": utc_from_nanos(event.time_unix_nano).isoformat(),
                "attributes": attributes_of(event.attributes),
            }
            for event in span.events
        ],
        links=[
            {
                "trace_id": binascii.hexlify(link.trace_id).decode(),
                "span_id": binascii.hexlify(link.span_id).decode(),
                "attributes": attributes_of(link.attributes),
            }
            for link in span.links
        ],
    )


def response(media: str, rejected: int, reasons: list[str]) -> bytes:
    """The export response in the request's encoding: ``partial_success`` when spans were refused (``rejected`` of
    them; the first reasons listed)."""
    answer = ExportTraceServiceResponse()
    if rejected:
        shown = reasons[:MAX_REASONS]
        more = f"; and {rejected - len(shown)} more" if rejected > len(shown) else ""
        answer.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected, error_message="; ".join(shown) + more)
        )
    if media == PROTOBUF:
        encoded: bytes = answer.SerializeToString()
        return encoded
    text: str = json_format.MessageToJson(answer, indent=None)
    return text.encode()
