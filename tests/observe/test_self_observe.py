"""`[observe] self = true`: requests that carry a W3C traceparent to memory, SQL, vector search and validation
become child spans of the caller's span, with what they did; other requests, bad headers and the setting off
record nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.asgi import AppClient

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
AGENT_SPAN = "00f067aa0ba902b7"
SCOPE = {"tenant": "acme", "user_id": "u1"}


def _agent_span(client: AppClient) -> None:
    span = {
        "trace_id": TRACE,
        "span_id": AGENT_SPAN,
        "name": "agent run",
        "kind": "agent",
        "start_time": "2026-01-31T12:00:00Z",
        "end_time": "2026-01-31T12:00:05Z",
    }
    assert client.post("/v1/observe/spans", json={"spans": [span]}).status_code == 200


def _flush(client: AppClient) -> None:
    client.app.state.self_observer.close()  # writes what is queued


def _children(client: AppClient) -> list[dict[str, Any]]:
    (root,) = client.get(f"/v1/traces/{TRACE}").json()["spans"]
    return list(root["children"])


def test_the_agents_trace_shows_what_it_read_and_wrote(make_client: Callable[..., AppClient]) -> None:
    client = make_client(observe={"self": True}, embed={"provider": "hashing"})
    _agent_span(client)
    traced = {"traceparent": f"00-{TRACE}-{AGENT_SPAN}-01"}
    added = client.post("/v1/memories", json={"scope": SCOPE, "content": "likes green tea"}, headers=traced).json()
    client.post("/v1/memories/search", json={"scope": SCOPE, "query": "tea"}, headers=traced)
    client.post("/v1/sql", json={"sql": "SELECT 1 AS one"}, headers=traced)
    client.post("/v1/validate", json={"schema": {"type": "integer"}, "payload": "x"}, headers=traced)  # a 422
    client.post("/v1/collections", json={"name": "docs", "dim": 3})
    client.post("/v1/collections/docs/search", json={"vector": [1, 0, 0], "k": 3}, headers=traced)
    client.post("/v1/memories", json={"scope": SCOPE, "content": "not traced"})
    client.post("/v1/memories", json={"scope": SCOPE, "content": "bad header"}, headers={"traceparent": "00-xyz"})
    _flush(client)
    children = _children(client)
    by_route = {c["attributes"]["http.route"]: c for c in children}
    assert len(children) == 5 and all(c["parent_span_id"] == AGENT_SPAN for c in children)
    add = by_route["/v1/memories"]
    assert add["kind"] == "memory" and add["attributes"]["lakehouse.memory_id"] == added["id"]
    assert add["span_kind"] == "server" and add["service_name"] == "lakehouse"
    search = by_route["/v1/memories/search"]
    assert search["attributes"]["lakehouse.memory_ids"] == [added["id"]]
    sql = by_route["/v1/sql"]
    assert sql["kind"] == "tool" and sql["attributes"]["lakehouse.row_count"] == 1
    assert isinstance(sql["attributes"]["lakehouse.snapshot_id"], int)
    validation = by_route["/v1/validate"]
    assert validation["kind"] == "guardrail" and validation["attributes"]["lakehouse.valid"] is False
    assert validation["attributes"]["http.response.status_code"] == 422 and validation["status"] == "ok"
    vectors = by_route["/v1/collections/{name}/search"]
    assert vectors["kind"] == "retriever" and vectors["attributes"]["lakehouse.collection"] == "docs"
    assert all(c["attributes"]["lakehouse.request_id"] for c in children)


def test_nothing_is_recorded_with_the_setting_off(make_client: Callable[..., AppClient]) -> None:
    client = make_client(embed={"provider": "hashing"})
    _agent_span(client)
    traced = {"traceparent": f"00-{TRACE}-{AGENT_SPAN}-01"}
    assert client.post("/v1/sql", json={"sql": "SELECT 1"}, headers=traced).status_code == 200
    assert not hasattr(client.app.state, "self_observer")
    assert _children(client) == []
