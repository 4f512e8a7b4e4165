"""The observation smokes of ``lakehouse verify``: OTLP exports in protobuf and JSON (encoded with
opentelemetry-proto, as any exporter sends them), the trace tree, a score, masking, a retry that records nothing
twice, and a memory operation observed as a child span of the caller's trace. Each uses new random trace ids and
the service name ``lakehouse-verify``; spans are kept until retention removes them."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from lakehouse.verify.chain import Target, _any_url, check, smoke


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _export(trace: bytes, root: bytes, child: bytes) -> ExportTraceServiceRequest:
    now = time.time_ns()
    spans = [
        Span(
            trace_id=trace,
            span_id=root,
            name="verify agent",
            start_time_unix_nano=now,
            end_time_unix_nano=now + 50_000_000,
            attributes=[_kv("openinference.span.kind", "AGENT"), _kv("agent.name", "verify")],
        ),
        Span(
            trace_id=trace,
            span_id=child,
            parent_span_id=root,
            name="verify chat",
            start_time_unix_nano=now + 1_000_000,
            end_time_unix_nano=now + 40_000_000,
            attributes=[
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.request.model", "gpt-4o-mini"),
                _kv("gen_ai.usage.input_tokens", 100),
                _kv("gen_ai.usage.output_tokens", 10),
                _kv("input.value", "reply to verify@example.com"),
                _kv("api_key", "sk-verify-not-a-real-key-000000"),
            ],
        ),
    ]
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[_kv("service.name", "lakehouse-verify")]),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="lakehouse-verify"), spans=spans)],
            )
        ]
    )


def _tree(c: Any, trace_id: str) -> dict[str, Any]:
    answer = c.get(f"/v1/traces/{trace_id}")
    check(answer.status_code == 200, f"GET /v1/traces/{trace_id} -> {answer.status_code}: {answer.text[:200]}")
    tree: dict[str, Any] = answer.json()
    return tree


@smoke("observe: OTLP protobuf export, the tree with tokens and cost, masked attributes, a retry recorded once")
def _otlp_protobuf(t: Target) -> str:
    url, key = _any_url(t)
    trace, root, child = secrets.token_bytes(16), secrets.token_bytes(8), secrets.token_bytes(8)
    body = _export(trace, root, child).SerializeToString()
    headers = {"content-type": "application/x-protobuf"}
    with t.client(url, key) as c:
        for _ in range(2):  # the second is a retry
            sent = c.post("/v1/traces", content=body, headers=headers)
            check(sent.status_code == 200, f"POST /v1/traces -> {sent.status_code}: {sent.text[:200]}")
            answer = ExportTraceServiceResponse.FromString(sent.content)
            check(not answer.HasField("partial_success"), f"partial success: {answer}")
        tree = _tree(c, trace.hex())
        (top,) = tree["spans"]
        (chat,) = top["children"]
        check(tree["totals"]["spans"] == 2, f"a retried export recorded twice: {tree['totals']}")
        check(top["kind"] == "agent" and chat["kind"] == "llm" and chat["model"] == "gpt-4o-mini", f"kinds: {top}")
        check(tree["totals"]["input_tokens"] == 100 and tree["totals"]["cost"] > 0, f"totals: {tree['totals']}")
        check(chat["input"] == "reply to [REDACTED]", f"input not masked: {chat['input']!r}")
        check(chat["attributes"]["api_key"] == "[REDACTED]", "an attribute named like a secret was stored")
    return "2 spans as agent > llm, tokens and cost rolled up, e-mail and key masked, a retry recorded once"


@smoke("observe: OTLP JSON export and a score listed on its trace")
def _otlp_json(t: Target) -> str:
    url, key = _any_url(t)
    trace, root, child = secrets.token_bytes(16), secrets.token_bytes(8), secrets.token_bytes(8)
    message = json_format.MessageToDict(_export(trace, root, child))
    for resource in message["resourceSpans"]:  # OTLP JSON writes ids in hex, not protobuf's base64
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for field in ("traceId", "spanId", "parentSpanId"):
                    if field in span:
                        span[field] = base64.b64decode(span[field]).hex()
    with t.client(url, key) as c:
        sent = c.post("/v1/traces", json=message)
        check(sent.status_code == 200 and sent.json() == {}, f"POST /v1/traces (JSON) -> {sent.text[:200]}")
        scored = c.post("/v1/observe/scores", json={"scores": [{"trace_id": trace.hex(), "name": "ok", "value": 1}]})
        check(scored.status_code == 200, f"POST /v1/observe/scores -> {scored.status_code}: {scored.text[:200]}")
        tree = _tree(c, trace.hex())
        check(tree["totals"]["spans"] == 2, f"spans: {tree['totals']}")
        check([s["name"] for s in tree["scores"]] == ["ok"], f"scores: {tree['scores']}")
    return "2 spans from OTLP JSON; the score is listed on the trace"


@smoke("observe: a memory operation with a traceparent is a child span of the caller (observe.self)")
def _self_observed(t: Target) -> str:
    url, key = _any_url(t)
    trace, parent = secrets.token_hex(16), secrets.token_hex(8)
    scope = {"tenant": f"lakehouse-verify-{secrets.token_hex(6)}", "agent_id": "verify"}
    with t.client(url, key) as c:
        added = c.post(
            "/v1/memories",
            json={"scope": scope, "content": "verify: observed"},
            headers={"traceparent": f"00-{trace}-{parent}-01"},
        )
        check(added.status_code == 201, f"add -> {added.status_code}: {added.text[:200]}")
        memory_id = added.json()["id"]
        seen = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and seen is None:  # written in batches, off the request's path
            answer = c.get(f"/v1/traces/{trace}")
            seen = answer.json() if answer.status_code == 200 else None
            if seen is None:
                time.sleep(0.1)
        c.post(f"/v1/memories/{memory_id}/forget", json={"scope": scope, "reason": "verify cleanup"})
    if seen is None:
        return "no span after 5 s: observe.self is off on this server"
    (span,) = seen["spans"]
    check(span["parent_span_id"] == parent and span["kind"] == "memory", f"span: {span}")
    check(span["attributes"].get("lakehouse.memory_id") == memory_id, f"attributes: {span['attributes']}")
    return "the ADD is a memory span under the caller's span, naming the memory id"
