"""Scale-out, proven: two `lakehouse up` stacks (two nodes: their own ports and data dirs) on one PostgreSQL (opsdb
and lake catalog) and one S3 bucket (moto). Every kind of state written through one node is read through the other
at once; a node killed mid-load and started again loses no acknowledged write, and the other never errs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import pg_s3_env
from tests.stack.test_supervisor import _free_block
from tests.waiting import stack_is_up

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.s3]

DAEMONS = ["storaged", "catalogd", "ingestd", "queryd", "vectord", "pathwayd", "validatord", "observerd"]


@dataclass
class Node:
    data_dir: Path
    port: int
    base_port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lakehouse", "up", "--data-dir", str(self.data_dir), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        deadline = time.monotonic() + 180
        while not stack_is_up(self.url, self.data_dir):
            assert self.proc.poll() is None, "the node exited at start"
            assert time.monotonic() < deadline, "the node did not start"
            time.sleep(0.2)

    def kill(self) -> None:
        """A crash: every process of the node killed at once, nothing drained."""
        state = json.loads((self.data_dir / "stack" / "state.json").read_text())
        assert self.proc is not None
        self.proc.kill()
        for process in state["processes"]:
            if process["pid"]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process["pid"], signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def nodes(tmp_path: Path, pg_url: str, s3_settings: dict[str, Any]) -> Iterator[tuple[Node, Node]]:
    shared = {
        **os.environ,
        **pg_s3_env(pg_url, s3_settings),
        "LAKEHOUSE_STORAGE__BACKEND": "s3",
        "LAKEHOUSE_STORAGE__S3__BUCKET": s3_settings["bucket"],
        "LAKEHOUSE_STORAGE__S3__PREFIX": "blobs",
        "LAKEHOUSE_EMBED__PROVIDER": "hashing",
        "LAKEHOUSE_STACK__SERVICES": json.dumps(DAEMONS),
        "LAKEHOUSE_STACK__RESTART_BACKOFF_S": "0.2",
    }
    made = []
    for name in ("a", "b"):
        base = _free_block(12)
        made.append(Node(tmp_path / name, base, base, {**shared, "LAKEHOUSE_STACK__BASE_PORT": str(base)}))
    a, b = made
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        for node in made:
            node.stop()


def _span(trace: str) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "scale-out"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace,
                                "spanId": "00f067aa0ba902b7",
                                "name": "agent run",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000001000000000",
                            }
                        ]
                    }
                ],
            }
        ]
    }


def test_two_nodes_share_every_kind_of_state_and_survive_a_crash(nodes: tuple[Node, Node]) -> None:
    """One pair of nodes for both halves: starting two stacks is the slow part."""
    _every_kind_of_state_written_on_one_node_is_read_on_the_other(*nodes)
    _a_node_killed_mid_load_loses_no_acknowledged_write(*nodes)


def _every_kind_of_state_written_on_one_node_is_read_on_the_other(a_node: Node, b_node: Node) -> None:
    with httpx.Client(base_url=a_node.url, timeout=60) as a, httpx.Client(base_url=b_node.url, timeout=60) as b:
        # dataset rows, then more: each read on B right after the write on A
        rows = "\n".join(json.dumps({"id": i, "amount": i * 2}) for i in range(100))
        made = a.post(
            "/v1/datasets/main.orders/ingest?create=true",
            content=rows,
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert made.status_code == 200, made.text
        assert b.post("/v1/sql", json={"sql": "SELECT count(*) FROM main.orders"}).json()["rows"] == [[100]]
        a.post(
            "/v1/datasets/main.orders/ingest",
            content='{"id": 100, "amount": 1}',
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert b.post("/v1/sql", json={"sql": "SELECT count(*) FROM main.orders"}).json()["rows"] == [[101]]
        # vector points
        assert a.post("/v1/collections", json={"name": "shared", "dim": 4}).status_code == 201
        points = [{"id": f"p{i}", "vector": [float(i == j) for j in range(4)], "metadata": {"i": i}} for i in range(4)]
        assert a.post("/v1/collections/shared/upsert", json={"points": points}).status_code == 200
        found = b.post("/v1/collections/shared/search", json={"vector": [0, 0, 1, 0], "k": 1}).json()
        assert [hit["id"] for hit in found["results"]] == ["p2"]
        # memories: added on A, changed on B, the history on A has both
        scope = {"tenant": "acme", "user_id": "u1"}
        memory = a.post("/v1/memories", json={"scope": scope, "content": "prefers email"}).json()
        assert b.get(f"/v1/memories/{memory['id']}", params=scope).json()["content"] == "prefers email"
        changed = b.patch(
            f"/v1/memories/{memory['id']}", json={"scope": scope, "expected_version": 1, "content": "prefers phone"}
        )
        assert changed.status_code == 200, changed.text
        events = a.get(f"/v1/memories/{memory['id']}/history", params=scope).json()["events"]
        assert [e["op"] for e in events][:2] == ["add", "update"]
        # schemas
        schema = {"type": "object", "required": ["id"]}
        assert a.post("/v1/schemas", json={"name": "order", "schema": schema}).status_code == 201
        verdict = b.post("/v1/validate", json={"schema": "order", "payload": {}})
        assert verdict.status_code == 422 and verdict.json()["errors"][0]["field"] == "id", verdict.text
        # keys
        assert a.post("/v1/keys", json={"name": "shared-key", "scopes": ["read"]}).status_code == 201
        assert "shared-key" in [k["name"] for k in b.get("/v1/keys").json()["items"]]
        # observations
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        assert a.post("/v1/traces", json=_span(trace)).status_code == 200
        assert b.get(f"/v1/traces/{trace}").json()["spans"][0]["name"] == "agent run"
        # blobs
        blob = hashlib.sha256(b"scale").digest() * 1000
        put = a.put("/v1/blobs/shared/x.bin", content=blob, headers={"Content-Type": "application/octet-stream"})
        assert put.status_code == 201
        assert b.get("/v1/blobs/shared/x.bin").content == blob


@dataclass
class Load:
    acked: list[tuple[str, str]] = field(default_factory=list)  # (memory id, the node that acknowledged it)
    rows: list[int] = field(default_factory=list)
    errors_on_a: list[str] = field(default_factory=list)
    refused_by_b: int = 0


def _a_node_killed_mid_load_loses_no_acknowledged_write(a_node: Node, b_node: Node) -> None:
    scope = {"tenant": "load", "user_id": "u"}
    with httpx.Client(base_url=a_node.url, timeout=60) as a:
        a.post(
            "/v1/datasets/main.load/ingest?create=true",
            content='{"n": -1}',
            headers={"Content-Type": "application/x-ndjson"},
        )
    load, stop = Load(), threading.Event()

    def run() -> None:
        clients = {
            "a": httpx.Client(base_url=a_node.url, timeout=30),
            "b": httpx.Client(base_url=b_node.url, timeout=30),
        }
        n = 0
        while not stop.is_set():
            n += 1
            for name, client in clients.items():
                try:
                    answer = client.post("/v1/memories", json={"scope": scope, "content": f"fact {n} via {name}"})
                    if name == "a":
                        rows = client.post(
                            "/v1/datasets/main.load/ingest",
                            content=json.dumps({"n": n}),
                            headers={"Content-Type": "application/x-ndjson"},
                        )
                        if rows.status_code == 200:
                            load.rows.append(n)
                        else:
                            load.errors_on_a.append(f"ingest {rows.status_code}")
                except httpx.TransportError as exc:
                    if name == "a":
                        load.errors_on_a.append(repr(exc))
                    else:
                        load.refused_by_b += 1
                    continue
                if answer.status_code == 201:
                    load.acked.append((answer.json()["id"], name))
                elif name == "a":
                    load.errors_on_a.append(f"memory {answer.status_code}: {answer.text[:200]}")
                else:
                    load.refused_by_b += 1
        for client in clients.values():
            client.close()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        time.sleep(3)
        b_node.kill()
        time.sleep(2)
        b_node.start()
        time.sleep(3)
    finally:
        stop.set()
        worker.join(60)
    assert load.errors_on_a == []
    assert load.refused_by_b > 0  # the kill did land mid-load
    assert {n for _, n in load.acked} == {"a", "b"}
    with httpx.Client(base_url=a_node.url, timeout=60) as a, httpx.Client(base_url=b_node.url, timeout=60) as b:
        for client in (a, b):
            listed: set[str] = set()
            cursor = None
            while True:
                page = client.get(
                    "/v1/memories", params={**scope, "limit": 500, **({"cursor": cursor} if cursor else {})}
                ).json()
                listed |= {m["id"] for m in page["items"]}
                cursor = page.get("next")
                if not cursor:
                    break
            assert {memory_id for memory_id, _ in load.acked} <= listed
            stored = {r[0] for r in client.post("/v1/sql", json={"sql": "SELECT n FROM main.load"}).json()["rows"]}
            assert set(load.rows) <= stored
