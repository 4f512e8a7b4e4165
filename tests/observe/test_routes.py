"""observerd in-process: OTLP protobuf and JSON (gzip too) with partial success, the JSON API, scores, the trace
tree with totals rolled up, lists and sessions, redaction on every path, prices, idempotent retries, bad input in
the problem shape with nothing written, and tenants that never see each other's traces (SQL included)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from lakehouse.observe.prices import Price, PriceTable
from tests.asgi import AppClient

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PROTO = {"content-type": "application/x-protobuf"}
T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def _nanos(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _span(span_id: str, name: str, parent: str | None = None, start: int = 0, ms: int = 100, **attrs: Any) -> Span:
    begin = T0 + timedelta(milliseconds=start)
    return Span(
        trace_id=bytes.fromhex(TRACE),
        span_id=bytes.fromhex(span_id),
        parent_span_id=bytes.fromhex(parent) if parent else b"",
        name=name,
        start_time_unix_nano=_nanos(begin),
        end_time_unix_nano=_nanos(begin + timedelta(milliseconds=ms)),
        attributes=[_kv(k.replace("__", "."), v) for k, v in attrs.items()],
    )


def _export(*spans: Span, service: str = "agent") -> bytes:
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={"attributes": [_kv("service.name", service), _kv("session.id", "s-1")]},
                scope_spans=[ScopeSpans(scope={"name": "tests"}, spans=list(spans))],
            )
        ]
    )
    return request.SerializeToString()


def _agent_run() -> bytes:
    root = _span("0000000000000001", "plan trip", ms=900, openinference__span__kind="AGENT", agent__name="planner")
    llm = _span(
        "0000000000000002",
        "chat gpt-4o",
        "0000000000000001",
        start=10,
        ms=400,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o-2024-08-06",
        gen_ai__usage__input_tokens=1000,
        gen_ai__usage__output_tokens=200,
        input__value="write to ada@example.com with key sk-proj-abcdefghijklmnopqrstuvwx",
    )
    tool = _span(
        "0000000000000003", "get weather", "0000000000000001", start=420, ms=300, gen_ai__operation__name="execute_tool"
    )
    retrieve = _span(
        "0000000000000004",
        "search docs",
        "0000000000000003",
        start=430,
        ms=50,
        openinference__span__kind="RETRIEVER",
        llm__cost__total=0.5,
        http__request__header__authorization="Bearer abc",
    )
    retrieve.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="index offline"))
    return _export(root, llm, tool, retrieve)


def test_an_otlp_export_becomes_a_trace_tree_with_totals_rolled_up(client: AppClient) -> None:
    answer = client.post("/v1/traces", content=_agent_run(), headers=PROTO)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(answer.content).HasField("partial_success")
    trace = client.get(f"/v1/traces/{TRACE}").json()
    assert trace["name"] == "plan trip" and trace["session_id"] == "s-1" and trace["agent_name"] == "planner"
    assert trace["status"] == "error" and trace["models"] == ["gpt-4o-2024-08-06"]
    (root,) = trace["spans"]
    assert [c["name"] for c in root["children"]] == ["chat gpt-4o", "get weather"]
    llm, tool = root["children"]
    assert llm["kind"] == "llm" and tool["kind"] == "tool" and tool["children"][0]["kind"] == "retriever"
    assert llm["cost"] == pytest.approx(1000 * 2.5e-6 + 200 * 10e-6) and llm["cost_source"] == "price_table"
    assert tool["children"][0]["cost"] == 0.5 and tool["children"][0]["cost_source"] == "span"  # its own cost kept
    assert root["totals"] == {
        "spans": 4,
        "input_tokens": 1000,
        "output_tokens": 200,
        "cost": pytest.approx(0.5045),
        "errors": 1,
    }
    assert tool["totals"]["spans"] == 2 and tool["totals"]["cost"] == 0.5
    assert root["duration_ms"] == 900.0 and llm["service_name"] == "agent" and llm["scope_name"] == "tests"
    # masked before it was stored: a pattern inside text, an attribute named like a secret
    assert llm["input"] == "write to [REDACTED] with key [REDACTED]"
    assert llm["attributes"]["input.value"] == llm["input"]
    assert tool["children"][0]["attributes"]["http.request.header.authorization"] == "[REDACTED]"
    stored = client.post("/v1/sql", json={"sql": "SELECT input FROM observe.spans WHERE input IS NOT NULL"}).json()
    assert stored["rows"] == [["write to [REDACTED] with key [REDACTED]"]]


def test_a_retried_export_records_nothing_twice(client: AppClient) -> None:
    body = _agent_run()
    for _ in range(3):
        assert client.post("/v1/traces", content=body, headers=PROTO).status_code == 200
    count = client.post("/v1/sql", json={"sql": "SELECT count(*), count(DISTINCT span_id) FROM observe.spans"})
    assert count.json()["rows"] == [[4, 4]]


def test_otlp_json_with_hex_ids_and_gzip_answers_in_json(client: AppClient) -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js-agent"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": "00f067aa0ba902b7",
                                "name": "embed query",
                                "kind": 3,
                                "startTimeUnixNano": str(_nanos(T0)),
                                "endTimeUnixNano": str(_nanos(T0 + timedelta(milliseconds=5))),
                                "attributes": [
                                    {"key": "openinference.span.kind", "value": {"stringValue": "EMBEDDING"}},
                                    {"key": "embedding.model_name", "value": {"stringValue": "text-embedding-3-small"}},
                                    {"key": "llm.token_count.prompt", "value": {"intValue": "50"}},
                                    {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}},
                                ],
                            },
                            {  # refused: ends before it starts
                                "traceId": TRACE,
                                "spanId": "00f067aa0ba902b8",
                                "name": "backwards",
                                "startTimeUnixNano": str(_nanos(T0)),
                                "endTimeUnixNano": str(_nanos(T0 - timedelta(seconds=1))),
                            },
                            {"traceId": "zz", "spanId": "00f067aa0ba902b9", "name": "bad id", "startTimeUnixNano": "1"},
                        ]
                    }
                ],
            }
        ]
    }
    answer = client.post(
        "/v1/traces",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2" and "ends before it starts" in partial["errorMessage"]
    assert "no valid trace_id" in partial["errorMessage"]
    (span,) = client.get(f"/v1/traces/{TRACE}").json()["spans"]
    assert span["kind"] == "embedding" and span["model"] == "text-embedding-3-small" and span["input_tokens"] == 50
    assert span["cost"] == pytest.approx(50 * 0.02e-6) and span["attributes"]["tags"] == ["a"]
    assert span["span_kind"] == "client" and span["service_name"] == "js-agent"


@pytest.mark.parametrize(
    ("body", "headers", "status", "kind"),
    [
        (b"\x0a\xff\xff\xff", PROTO, 400, "malformed_input"),
        (b"{}", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b"{}", {"content-type": "application/json", "content-encoding": "br"}, 415, "unsupported_media_type"),
        (b"not gzip", {"content-type": "application/json", "content-encoding": "gzip"}, 400, "malformed_input"),
        (b'{"resourceSpans": "x"}', {"content-type": "application/json"}, 400, "malformed_input"),
        (b'{"resourceSpans": [{"x": "\\ud800"}]}', {"content-type": "application/json"}, 400, "lone_surrogate"),
        (b"[1, 2", {"content-type": "application/json"}, 400, "invalid_json"),
    ],
)
def test_bad_exports_are_refused_whole_and_write_nothing(
    client: AppClient, body: bytes, headers: dict[str, str], status: int, kind: str
) -> None:
    answer = client.post("/v1/traces", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json" and answer.json()["errors"][0]["kind"] == kind
    assert client.get("/v1/traces").json()["items"] == []


def test_too_many_spans_and_a_gzip_bomb_are_413(make_client: Callable[..., AppClient]) -> None:
    client = make_client(observe={"max_spans": 3}, server={"max_body_bytes": 100_000})
    assert client.post("/v1/traces", content=_agent_run(), headers=PROTO).status_code == 413
    bomb = gzip.compress(b"{" + b" " * 1_000_000 + b"}")
    answer = client.post(
        "/v1/traces", content=bomb, headers={"content-type": "application/json", "content-encoding": "gzip"}
    )
    assert answer.status_code == 413 and answer.json()["errors"][0]["kind"] == "payload_too_large"
    assert client.get("/v1/traces").json()["items"] == []


def test_a_span_holding_nul_is_refused_alone(client: AppClient) -> None:
    bad = _span("00000000000000aa", "name\x00with nul")
    good = _span("00000000000000ab", "fine")
    answer = client.post("/v1/traces", content=_export(bad, good), headers=PROTO)
    partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
    assert partial.rejected_spans == 1 and "NUL" in partial.error_message
    assert [s["name"] for s in client.get(f"/v1/traces/{TRACE}").json()["spans"]] == ["fine"]


def test_the_json_api_columns_win_and_scores_attach_to_the_trace(client: AppClient) -> None:
    span = {
        "trace_id": TRACE,
        "span_id": "00f067aa0ba902b7",
        "name": "answer",
        "kind": "chain",
        "start_time": "2026-01-31T12:00:00Z",
        "end_time": "2026-01-31T12:00:02Z",
        "model": "claude-sonnet-4-20250514",
        "input_tokens": 100,
        "output_tokens": 10,
        "input": {"messages": [{"role": "user", "content": "call me at bob@example.com"}]},
        "session_id": "s-9",
        "attributes": {"gen_ai.request.model": "ignored-because-given", "password": "hunter2", "nested": {"token": 1}},
    }
    recorded = client.post("/v1/observe/spans", json={"spans": [span]})
    assert recorded.status_code == 200 and recorded.json()["accepted"] == 1
    (got,) = client.get(f"/v1/traces/{TRACE}").json()["spans"]
    assert got["kind"] == "chain" and got["model"] == "claude-sonnet-4-20250514"
    assert got["cost"] == pytest.approx(100 * 3e-6 + 10 * 15e-6)
    assert json.loads(got["input"]) == {"messages": [{"role": "user", "content": "call me at [REDACTED]"}]}
    assert got["attributes"]["password"] == "[REDACTED]" and got["attributes"]["nested"] == {"token": 1}
    scores = [
        {"trace_id": TRACE, "name": "helpful", "value": 0.75, "source": "human", "comment": "ok"},
        {"trace_id": TRACE, "span_id": "00f067aa0ba902b7", "name": "grounded", "value": False, "source": "model"},
        {"trace_id": TRACE, "name": "topic", "value": "billing", "score_id": "topic-1"},
    ]
    assert client.post("/v1/observe/scores", json={"scores": scores}).json()["recorded"] == 3
    again = client.post("/v1/observe/scores", json={"scores": [{**scores[2], "value": "refunds"}]})
    assert again.json()["score_ids"] == ["topic-1"]
    listed = {s["name"]: s for s in client.get(f"/v1/traces/{TRACE}").json()["scores"]}
    assert listed["helpful"]["value"] == 0.75 and listed["helpful"]["data_type"] == "numeric"
    assert listed["grounded"]["value"] is False and listed["grounded"]["span_id"] == "00f067aa0ba902b7"
    assert listed["topic"]["value"] == "refunds" and len(listed) == 3
    per_name = client.post(
        "/v1/sql", json={"sql": "SELECT name, avg(value_number) FROM observe.scores GROUP BY name ORDER BY name"}
    ).json()["rows"]
    assert per_name == [["grounded", 0.0], ["helpful", 0.75], ["topic", None]]
    session = client.get("/v1/sessions/s-9").json()
    assert [t["trace_id"] for t in session["traces"]] == [TRACE] and session["totals"]["input_tokens"] == 100


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_time": "2026-01-31T11:00:00Z"}, "end_time"),
        ({"span_id": "0000000000000000"}, "span_id"),
        ({"trace_id": "XYZ"}, "trace_id"),
        ({"parent_span_id": "00f067aa0ba902b7"}, "parent_span_id"),
        ({"cost": -1}, "cost"),
        ({"kind": "wizard"}, "kind"),
    ],
)
def test_the_json_api_refuses_a_bad_span_and_records_none(
    client: AppClient, change: dict[str, Any], field: str
) -> None:
    good = {
        "trace_id": TRACE,
        "span_id": "00f067aa0ba902b7",
        "name": "x",
        "start_time": "2026-01-31T12:00:00Z",
        "end_time": "2026-01-31T12:00:01Z",
    }
    answer = client.post(
        "/v1/observe/spans", json={"spans": [{**good, "span_id": "00f067aa0ba902b1"}, {**good, **change}]}
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == f"spans[1].{field}"
    assert client.get("/v1/traces").json()["items"] == []


def _traces(client: AppClient, count: int) -> list[str]:
    ids = []
    for n in range(count):
        trace = f"{n + 1:032x}"
        ids.append(trace)
        span = {
            "trace_id": trace,
            "span_id": f"{n + 1:016x}",
            "name": f"run {n}",
            "start_time": (T0 + timedelta(minutes=n)).isoformat(),
            "end_time": (T0 + timedelta(minutes=n, seconds=n)).isoformat(),
            "model": "gpt-4o-mini" if n % 2 else "gpt-4o",
            "input_tokens": 1000 * n,
            "user_id": f"u{n % 3}",
            "agent_name": "a",
            "status": "error" if n == 3 else "ok",
        }
        assert client.post("/v1/observe/spans", json={"spans": [span]}).status_code == 200
    return ids


def test_lists_filter_and_page_newest_first(client: AppClient) -> None:
    ids = _traces(client, 7)
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get("/v1/traces", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [t["trace_id"] for t in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ids[::-1]

    def listed(**params: Any) -> list[str]:
        return [t["trace_id"] for t in client.get("/v1/traces", params=params).json()["items"]]

    assert listed(user_id="u1") == [ids[4], ids[1]]
    assert listed(model="gpt-4o-mini") == [ids[5], ids[3], ids[1]]
    assert listed(status="error") == [ids[3]]
    assert listed(min_cost=0.009) == [ids[6], ids[4]]  # gpt-4o 6000 and 4000 tokens in; gpt-4o-mini is cheaper
    assert listed(min_duration_ms=5000) == [ids[6], ids[5]]
    assert listed(start=(T0 + timedelta(minutes=5)).isoformat()) == [ids[6], ids[5]]
    assert listed(end=(T0 + timedelta(minutes=1)).isoformat()) == [ids[0]]
    bad = client.get("/v1/traces", params={"cursor": "nope"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["kind"] == "invalid_cursor"


def test_a_changed_price_table_reprices_what_it_priced(make_client: Callable[..., AppClient]) -> None:
    client = make_client(observe={"prices": {"gpt-4o": {"input": 1e-5, "output": 0}}})
    _traces(client, 3)
    assert client.get(f"/v1/traces/{3:032x}").json()["totals"]["cost"] == pytest.approx(2000 * 1e-5)
    store = client.lakehouse.observe
    store.prices = PriceTable({"gpt-4o": Price(input=2e-5, output=0)})
    assert store.reprice() == 3  # every span with tokens that the table priced
    assert client.get(f"/v1/traces/{3:032x}").json()["totals"]["cost"] == pytest.approx(2000 * 2e-5)
    assert client.get(f"/v1/traces/{2:032x}").json()["totals"]["cost"] == pytest.approx(1000 * 0.15e-6)


def test_a_tenant_key_sees_only_its_tenants_traces(make_client: Callable[..., AppClient]) -> None:
    client = make_client(auth={"enabled": True})
    keys = client.lakehouse.keys
    auth = {
        name: {"authorization": f"Bearer {keys.create(name, 'read,write,sql', tenant=name).secret}"}
        for name in ("acme", "globex")
    }
    admin = {"authorization": f"Bearer {keys.create('root', 'admin').secret}"}
    crm = {"authorization": f"Bearer {keys.create('crm', 'read,write,sql', namespaces='crm').secret}"}
    assert client.post("/v1/traces", content=_agent_run(), headers={**PROTO, **auth["acme"]}).status_code == 200
    assert client.get(f"/v1/traces/{TRACE}", headers=auth["acme"]).status_code == 200
    hidden = client.get(f"/v1/traces/{TRACE}", headers=auth["globex"])
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["kind"] == "trace_not_found"
    assert client.get("/v1/traces", headers=auth["globex"]).json()["items"] == []
    assert client.get("/v1/sessions/s-1", headers=auth["globex"]).status_code == 404
    sql = "SELECT count(*) FROM observe.spans"
    assert client.post("/v1/sql", json={"sql": sql}, headers=auth["globex"]).json()["rows"] == [[0]]
    assert client.post("/v1/sql", json={"sql": sql}, headers=auth["acme"]).json()["rows"] == [[4]]
    assert client.post("/v1/sql", json={"sql": sql}, headers=admin).json()["rows"] == [[4]]
    joined = "SELECT count(*) FROM observe.spans s JOIN observe.scores c USING (trace_id)"
    assert client.post("/v1/sql", json={"sql": joined}, headers=auth["globex"]).status_code == 200
    travel = client.post("/v1/sql", json={"sql": sql + " AT (VERSION => 1)"}, headers=auth["globex"])
    assert travel.status_code == 403
    changes = "SELECT * FROM ducklake_table_changes('lake', 'observe', 'spans', 0, 100)"
    assert client.post("/v1/sql", json={"sql": changes}, headers=auth["globex"]).status_code == 403
    # a key bound to other namespaces reaches no observation at all
    assert client.get("/v1/traces", headers=crm).status_code == 403
    assert client.post("/v1/sql", json={"sql": sql}, headers=crm).status_code == 403
    assert client.post("/v1/traces", content=_agent_run(), headers={**PROTO, **crm}).status_code == 403
    # scores are stamped and filtered the same way
    score = {"scores": [{"trace_id": TRACE, "name": "ok", "value": 1}]}
    assert client.post("/v1/observe/scores", json=score, headers=auth["globex"]).status_code == 200
    assert client.get(f"/v1/traces/{TRACE}", headers=auth["acme"]).json()["scores"] == []
    reader = {"authorization": f"Bearer {keys.create('reader', 'read').secret}"}
    assert client.post("/v1/traces", content=_agent_run(), headers={**PROTO, **reader}).status_code == 403


def test_the_trace_index_is_derived_and_repaired_from_the_lake(client: AppClient) -> None:
    """A process that stopped between a span commit and its index update: a trace read repairs its trace, reindex
    makes the whole index again, and a retried export still records nothing twice."""
    import sqlalchemy as sa

    from lakehouse.opsdb.schema import observe_traces

    body = _agent_run()
    assert client.post("/v1/traces", content=body, headers=PROTO).status_code == 200
    listed = client.get("/v1/traces").json()["items"]
    with client.lakehouse.opsdb.begin() as conn:
        conn.execute(sa.delete(observe_traces))
    assert client.get("/v1/traces").json()["items"] == []  # the index is behind the lake
    repaired = client.get(f"/v1/traces/{TRACE}").json()
    assert repaired["totals"]["spans"] == 4
    assert client.get("/v1/traces").json()["items"] == listed  # the read put its trace back
    with client.lakehouse.opsdb.begin() as conn:
        conn.execute(sa.delete(observe_traces))
    assert client.lakehouse.observe.reindex() == 1
    assert client.get("/v1/traces").json()["items"] == listed
    assert client.post("/v1/traces", content=body, headers=PROTO).status_code == 200
    assert client.get("/v1/traces").json()["items"] == listed  # nothing twice: not in the lake, not in the totals


def test_scores_are_read_for_the_traces_that_have_them_and_survive_reindex(client: AppClient) -> None:
    """A trace read skips the scores table for traces the index knows have none; the index's list of scored
    traces is remade from the lake with the rest."""
    import sqlalchemy as sa

    from lakehouse.opsdb.schema import observe_scored, observe_traces

    assert client.post("/v1/traces", content=_agent_run(), headers=PROTO).status_code == 200
    assert client.get(f"/v1/traces/{TRACE}").json()["scores"] == []
    score = {"trace_id": TRACE, "name": "helpful", "value": True, "source": "human"}
    assert client.post("/v1/observe/scores", json={"scores": [score]}).status_code == 200
    assert [s["name"] for s in client.get(f"/v1/traces/{TRACE}").json()["scores"]] == ["helpful"]
    with client.lakehouse.opsdb.begin() as conn:
        conn.execute(sa.delete(observe_scored))
        conn.execute(sa.delete(observe_traces))
    assert client.lakehouse.observe.reindex() == 1
    assert [s["name"] for s in client.get(f"/v1/traces/{TRACE}").json()["scores"]] == ["helpful"]


def test_small_span_files_are_merged_and_every_trace_reads_the_same(make_client: Callable[..., AppClient]) -> None:
    """After ``compact_after`` span commits their files are merged in the background; traces, lists, SQL and the
    duplicate check of a retried export answer as before."""
    client = make_client(observe={"compact_after": 4})
    ids = _traces(client, 9)
    store = client.lakehouse.observe
    merging = store._merging
    assert merging is not None
    merging.join(30)
    before = {trace: client.get(f"/v1/traces/{trace}").json() for trace in ids}
    store.compact()
    lake = client.lakehouse.lake
    with lake.cursor() as cur:
        files = cur.execute("SELECT count(*) FROM ducklake_list_files('lake', 'spans', schema => 'observe')").fetchone()
    assert files == (1,)
    assert {trace: client.get(f"/v1/traces/{trace}").json() for trace in ids} == before
    _traces(client, 9)  # every span again: nothing recorded twice
    counted = client.post("/v1/sql", json={"sql": "SELECT count(*), count(DISTINCT span_id) FROM observe.spans"})
    assert counted.json()["rows"] == [[9, 9]]
    assert len(client.get("/v1/traces", params={"limit": 100}).json()["items"]) == 9


def test_partial_success_counts_every_refused_span(client: AppClient) -> None:
    spans = [_span(f"{n + 1:016x}", "backwards", ms=-5) for n in range(150)] + [_span("00000000000000ff", "kept")]
    answer = client.post("/v1/traces", content=_export(*spans), headers=PROTO)
    partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
    assert partial.rejected_spans == 150 and partial.error_message.endswith("; and 130 more")
    assert answer.headers["X-Spans-Accepted"] == "1" and answer.headers["X-Spans-Rejected"] == "150"


def test_a_score_holding_nul_is_refused_in_process_too(client: AppClient) -> None:
    from lakehouse.errors import NulCharacter
    from lakehouse.observe import ScoreBatch

    assert client.post("/v1/traces", content=_agent_run(), headers=PROTO).status_code == 200
    batch = ScoreBatch.model_validate({"scores": [{"trace_id": TRACE, "name": "n", "value": "a\x00b"}]})
    with pytest.raises(NulCharacter):
        client.lakehouse.observe.record_scores(batch)
    assert client.post("/v1/sql", json={"sql": "SELECT count(*) FROM observe.scores"}).json()["rows"] == [[0]]


def test_spans_committed_but_not_yet_indexed_are_not_recorded_twice(
    client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next commit may start while the last one updates the trace index: its duplicate check sees the traces
    committed but not yet indexed. An index that cannot be updated loses no acknowledged span."""
    store = client.lakehouse.observe

    def fails(spans: object) -> None:
        raise RuntimeError("index offline")

    monkeypatch.setattr(store.index, "add", fails)
    body = _agent_run()
    answer = client.post("/v1/traces", content=body, headers=PROTO)
    assert answer.status_code == 200 and answer.headers["X-Spans-Accepted"] == "4"
    assert len(store._commits.unindexed) == 1  # committed, known to the duplicate check, not indexed
    assert client.post("/v1/traces", content=body, headers=PROTO).status_code == 200
    counted = client.post("/v1/sql", json={"sql": "SELECT count(*) FROM observe.spans"})
    assert counted.json()["rows"] == [[4]]
    monkeypatch.undo()
    assert client.get(f"/v1/traces/{TRACE}").json()["totals"]["spans"] == 4  # the read indexes it


def test_exports_read_in_worker_processes_land_as_in_process(make_client: Callable[..., AppClient]) -> None:
    """With ``decode_workers`` the same export (masked, normalized, priced, with a refused span) lands exactly as
    in the server's process; a malformed body and too many spans are still 400 and 413, and a tenant's key
    stamps its spans."""
    here = make_client()
    there = make_client(observe={"decode_workers": 1, "max_spans": 5}, auth={"enabled": True})
    admin = {"Authorization": f"Bearer {there.lakehouse.keys.create('admin', scopes=['admin']).secret}"}
    spans = [_span("00000000000000fe", "backwards", ms=-5)]
    body = _export(*spans) + _agent_run()  # two resource spans in one request (protobuf messages concatenate)
    answers = [c.post("/v1/traces", content=body, headers={**PROTO, **h}) for c, h in ((here, {}), (there, admin))]
    assert [a.headers["X-Spans-Accepted"] for a in answers] == ["4", "4"]
    assert [a.headers["X-Spans-Rejected"] for a in answers] == ["1", "1"]
    assert here.get(f"/v1/traces/{TRACE}").json() == there.get(f"/v1/traces/{TRACE}", headers=admin).json()
    bad = there.post("/v1/traces", content=b"\x0a\xff\xff\xff", headers={**PROTO, **admin})
    assert bad.status_code == 400 and bad.json()["errors"][0]["kind"] == "malformed_input"
    many = _export(*[_span(f"{n + 1:016x}", "s") for n in range(6)])
    assert there.post("/v1/traces", content=many, headers={**PROTO, **admin}).status_code == 413
    key = there.lakehouse.keys.create("acme", scopes=["read", "write"], tenant="acme").secret
    tenant = {"Authorization": f"Bearer {key}"}
    other = _export(_span("00000000000000aa", "acme run")).replace(bytes.fromhex(TRACE), bytes.fromhex("ab" * 16))
    assert there.post("/v1/traces", content=other, headers={**PROTO, **tenant}).status_code == 200
    assert [t["trace_id"] for t in there.get("/v1/traces", headers=tenant).json()["items"]] == ["ab" * 16]
    # a worker that dies: that export is 503 with nothing recorded, the next one starts new workers
    import os
    import signal

    workers = there.lakehouse.observe._workers
    assert workers is not None and workers._pool is not None
    for pid in list(workers._pool._processes):
        os.kill(pid, signal.SIGKILL)
    run = _export(_span("00000000000000bb", "after")).replace(bytes.fromhex(TRACE), bytes.fromhex("cd" * 16))
    lost = there.post("/v1/traces", content=run, headers={**PROTO, **admin})
    assert lost.status_code == 503 and lost.json()["errors"][0]["kind"] == "store_unavailable"
    assert there.get(f"/v1/traces/{'cd' * 16}", headers=admin).status_code == 404
    assert there.post("/v1/traces", content=run, headers={**PROTO, **admin}).status_code == 200
    assert there.get(f"/v1/traces/{'cd' * 16}", headers=admin).status_code == 200
