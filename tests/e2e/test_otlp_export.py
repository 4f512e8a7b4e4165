"""The OpenTelemetry SDK as the client: its OTLP/HTTP exporters (protobuf, and JSON; gzip) pointed at a running
`lakehouse serve`, exporting nested spans with GenAI and OpenInference attributes, resource attributes and events.
Every attribute arrives, the tree and its totals are right, a retried export records nothing twice, and on
PostgreSQL + S3 a second server reads what the first acknowledged."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as ProtoExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tests.e2e.test_serve import _serve_pair

pytestmark = pytest.mark.e2e

RESOURCE = {"service.name": "travel-agent", "service.version": "1.4.2", "deployment.environment": "test"}


def _run_agent(exporter: SpanExporter) -> list[ReadableSpan]:
    """An agent run as instrumented code makes it: a root agent span, a chat call with GenAI attributes and a
    prompt event, a tool call with an OpenInference retriever inside it that fails."""
    kept = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("travel-agent.instrumentation", "0.1")
    with tracer.start_as_current_span(
        "invoke_agent planner",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "session.id": "trip-7"},
    ):
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": 300,
                "gen_ai.request.temperature": 0.2,
                "gen_ai.response.finish_reasons": ["stop"],
                "user.id": "u-42",
                "api_key": "sk-live-should-never-be-stored-anywhere",
            },
        ) as chat:
            chat.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "Plan Lisbon, reply to eve@example.org"})
            chat.set_attribute("output.value", "Day 1: Alfama")
        with (
            tracer.start_as_current_span(
                "execute_tool search_hotels",
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "h"},
            ),
            tracer.start_as_current_span(
                "retrieve hotels",
                attributes={
                    "openinference.span.kind": "RETRIEVER",
                    "input.value": "hotels in Alfama",
                    "retrieval.documents.0.document.id": "doc-1",
                    "retrieval.top_k": 5,
                    "cached": False,
                },
            ) as retriever,
        ):
            retriever.set_status(Status(StatusCode.ERROR, "index offline"))
    provider.shutdown()
    spans = list(kept.get_finished_spans())
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    return spans


@pytest.mark.parametrize(
    ("pair", "encoding"),
    [
        ("sqlite", "protobuf"),
        ("sqlite", "json"),
        pytest.param("postgres+s3", "protobuf", marks=[pytest.mark.postgres, pytest.mark.s3]),
    ],
)
def test_the_sdk_exports_spans_and_every_attribute_arrives(
    tmp_path: Path, pair: str, encoding: str, request: pytest.FixtureRequest
) -> None:
    writer, writer_url, reader, reader_url = _serve_pair(tmp_path, pair, request, 2 if pair != "sqlite" else 1)
    try:
        if encoding == "protobuf":
            exporter: SpanExporter = ProtoExporter(endpoint=writer_url + "/v1/traces", compression=Compression.Gzip)
        else:
            exporter = JsonExporter(endpoint=writer_url + "/v1/traces")
        spans = _run_agent(exporter)
        trace_id = f"{spans[0].context.trace_id:032x}"
        with httpx.Client(base_url=reader_url, timeout=30) as client:
            trace = client.get(f"/v1/traces/{trace_id}").json()  # acknowledged: readable by the next request
            assert trace["name"] == "invoke_agent planner" and trace["session_id"] == "trip-7"
            assert trace["status"] == "error" and trace["totals"]["spans"] == 4
            (root,) = trace["spans"]
            assert root["kind"] == "agent" and root["agent_name"] == "planner"
            chat, tool = root["children"]
            assert chat["kind"] == "llm" and chat["model"] == "gpt-4o-mini-2024-07-18" and chat["provider"] == "openai"
            assert chat["input_tokens"] == 1200 and chat["output_tokens"] == 300 and chat["user_id"] == "u-42"
            assert chat["cost"] == pytest.approx(1200 * 0.15e-6 + 300 * 0.60e-6)
            assert chat["input"] == "Plan Lisbon, reply to [REDACTED]" and chat["output"] == "Day 1: Alfama"
            assert chat["events"][0]["name"] == "gen_ai.content.prompt"
            (retriever,) = tool["children"]
            assert tool["kind"] == "tool" and retriever["kind"] == "retriever"
            assert retriever["status"] == "error" and retriever["status_message"] == "index offline"
            assert root["totals"]["cost"] == pytest.approx(chat["cost"]) and tool["totals"]["errors"] == 1
            by_id = {f"{s.context.span_id:016x}": s for s in spans}
            for node in _walk(root):
                sent = by_id[node["span_id"]]
                expected = {k: _plain(v) for k, v in (sent.attributes or {}).items()}
                expected = {k: ("[REDACTED]" if k == "api_key" else v) for k, v in expected.items()}
                assert node["attributes"] == expected, node["name"]  # every attribute, as sent
                assert {k: node["resource"][k] for k in RESOURCE} == RESOURCE
                assert node["resource"]["telemetry.sdk.name"] == "opentelemetry"
                assert node["scope_name"] == "travel-agent.instrumentation"
                assert node["start_time"] and node["duration_ms"] >= 0
            everything = client.post("/v1/sql", json={"sql": "SELECT * FROM observe.spans"}).text
            assert "sk-live" not in everything and "eve@example.org" not in everything
            assert exporter.export(spans) == SpanExportResult.SUCCESS  # a retry
            counted = client.post(
                "/v1/sql", json={"sql": "SELECT count(*) FROM observe.spans WHERE trace_id = ?", "params": [trace_id]}
            ).json()["rows"]
            assert counted == [[4]]
        exporter.shutdown()
    finally:
        for proc in {writer, reader}:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node["children"] for n in _walk(child))]


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
