"""`lakehouse up` as a real stack: daemons behind the gateway with auth on, each answering only the gateway; a blob
streamed through it; a daemon killed (503 for its routes, the rest answering, then restarted); `lakehouse status`;
and a stop that leaves no process behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from tests.stack.test_supervisor import _free_block
from tests.waiting import stack_is_up

pytestmark = pytest.mark.e2e

SERVICES = ["storaged", "catalogd", "ingestd", "queryd", "pathwayd", "validatord"]


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path
    base_port: int
    admin: str
    env: dict[str, str]

    def status(self) -> dict[str, dict[str, object]]:
        out = subprocess.run(
            [sys.executable, "-m", "lakehouse", "status", "--json", "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        return {p["name"]: p for p in json.loads(out.stdout)["processes"]}

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


def _wait(check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack") / "data"
    base = _free_block(12)
    env = {
        **os.environ,
        "LAKEHOUSE_AUTH__ENABLED": "true",
        "LAKEHOUSE_EMBED__PROVIDER": "hashing",
        "LAKEHOUSE_STACK__SERVICES": json.dumps(SERVICES),
        "LAKEHOUSE_STACK__BASE_PORT": str(base),
        "LAKEHOUSE_STACK__RESTART_BACKOFF_S": "0.5",
    }
    settings = Settings.model_validate({"data_dir": data_dir, "auth": {"enabled": True}})
    with Lakehouse(settings) as lakehouse:
        admin = lakehouse.keys.create("admin", ["admin"]).secret
    log = data_dir.parent / "stack.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lakehouse", "up", "--data-dir", str(data_dir), "--port", str(base)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{base}"
    try:
        _wait(lambda: stack_is_up(url, data_dir), timeout=180)
        yield Stack(proc, url, data_dir, log, base, admin, env)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_process_is_up_on_its_port(stack: Stack) -> None:
    status = stack.status()
    assert set(status) == {*SERVICES, "gateway"}
    assert all(p["state"] == "up" and p["health"] == "ok" for p in status.values()), status
    assert status["queryd"]["port"] == stack.base_port + 4  # base_port + 1 + its place among the daemons
    assert status["gateway"]["port"] == stack.base_port


def test_keys_are_checked_at_the_gateway_and_held_to_scopes_and_tenants(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        keys = {}
        for name, scopes, tenant in [("w-acme", ["read", "write"], "acme"), ("w-other", ["read", "write"], "other")]:
            created = http.post(
                "/v1/keys", json={"name": name, "scopes": scopes, "tenant": tenant}, headers=_auth(stack.admin)
            )
            assert created.status_code == 201, created.text
            keys[name] = created.json()["secret"]
        added = http.post(
            "/v1/memories",
            json={"scope": {"tenant": "acme", "agent_id": "a"}, "content": "the stack forwards"},
            headers=_auth(keys["w-acme"]),
        )
        assert added.status_code == 201, added.text
        memory_id = added.json()["id"]
        own = http.get(
            f"/v1/memories/{memory_id}", params={"tenant": "acme", "agent_id": "a"}, headers=_auth(keys["w-acme"])
        )
        assert own.status_code == 200
        scope = {"tenant": "acme", "agent_id": "a"}
        other = http.get(f"/v1/memories/{memory_id}", params=scope, headers=_auth(keys["w-other"]))
        assert other.status_code == 404  # another tenant's memory is a missing one
        no_key = http.post("/v1/sql", json={"sql": "select 1"})
        assert no_key.status_code == 401
        assert no_key.headers["content-type"] == "application/problem+json"
        wrong_scope = http.post("/v1/sql", json={"sql": "select 1"}, headers=_auth(keys["w-acme"]))
        assert wrong_scope.status_code == 403 and "'sql' scope" in wrong_scope.json()["detail"]
        revoked = http.delete("/v1/keys/w-other", headers=_auth(stack.admin))
        assert revoked.status_code == 200
        gone = http.get(f"/v1/memories/{memory_id}", params={"tenant": "other"}, headers=_auth(keys["w-other"]))
        assert gone.status_code == 401


def test_a_daemon_refuses_requests_that_did_not_come_through_the_gateway(stack: Stack) -> None:
    queryd = f"http://127.0.0.1:{stack.base_port + 4}"
    direct = httpx.post(queryd + "/v1/sql", json={"sql": "select 1"}, headers=_auth(stack.admin), timeout=10)
    assert direct.status_code == 403
    assert direct.json()["errors"][0]["kind"] == "forbidden"
    assert httpx.get(queryd + "/health", timeout=10).status_code == 200


def test_the_request_id_reaches_the_daemons_log_line(stack: Stack) -> None:
    answer = httpx.post(
        stack.url + "/v1/sql",
        json={"sql": "select 41 + 1 as x"},
        headers={**_auth(stack.admin), "X-Request-ID": "stack-req-0001"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["rows"] == [[42]]
    assert answer.headers["x-request-id"] == "stack-req-0001"

    def logged() -> bool:
        services = {
            line.get("service")
            for line in stack.lines()
            if line.get("request_id") == "stack-req-0001" and line.get("logger") == "lakehouse.access"
        }
        return services == {"gateway", "queryd"}

    _wait(logged, timeout=10)


def test_a_blob_streams_through_the_gateway_both_ways(stack: Stack) -> None:
    size = 64 * 1024 * 1024
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB

    def body() -> Iterator[bytes]:
        for _ in range(size // len(block)):
            yield block

    expected = hashlib.sha256(block * (size // len(block))).hexdigest()
    put = httpx.put(
        stack.url + "/v1/blobs/stack-test/big.bin",
        content=body(),
        headers={**_auth(stack.admin), "Content-Type": "application/octet-stream"},
        timeout=120,
    )
    assert put.status_code == 201, put.text
    assert put.json()["sha256"] == expected
    digest = hashlib.sha256()
    with httpx.stream("GET", stack.url + "/v1/blobs/stack-test/big.bin", headers=_auth(stack.admin), timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-length"] == str(size)
        for chunk in r.iter_raw():
            digest.update(chunk)
    assert digest.hexdigest() == expected


def test_a_killed_daemon_is_a_503_then_restarted(stack: Stack) -> None:
    pid = int(stack.status()["queryd"]["pid"])  # type: ignore[call-overload]
    os.kill(pid, signal.SIGKILL)
    with httpx.Client(base_url=stack.url, headers=_auth(stack.admin), timeout=30) as http:
        down = http.post("/v1/sql", json={"sql": "select 1"})
        assert down.status_code == 503
        assert down.json()["errors"][0]["kind"] == "service_unavailable"
        assert http.get("/v1/datasets").status_code == 200  # the rest keep answering
        _wait(lambda: stack.status()["queryd"]["state"] == "up")
        status = stack.status()["queryd"]
        assert status["restarts"] == 1 and status["pid"] != pid
        assert http.post("/v1/sql", json={"sql": "select 1"}).status_code == 200


def test_the_stack_is_managed_by_an_unbound_admin_key_only(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        state = http.get("/v1/stack", headers=_auth(stack.admin))
        assert state.status_code == 200
        assert {p["name"] for p in state.json()["processes"]} == {*SERVICES, "gateway"}
        for name, scopes, tenant in [("bound-admin", ["admin"], "acme"), ("plain-reader", ["read"], None)]:
            made = http.post(
                "/v1/keys", json={"name": name, "scopes": scopes, "tenant": tenant}, headers=_auth(stack.admin)
            )
            secret = made.json()["secret"]
            assert http.get("/v1/stack", headers=_auth(secret)).status_code == 403
            refused = http.post("/v1/stack/restart", json={"service": "queryd"}, headers=_auth(secret))
            assert refused.status_code == 403
        assert http.post("/v1/stack/restart", json={"service": "queryd"}).status_code == 401
        assert http.post("/v1/stack/restart", json={"service": "embedd"}, headers=_auth(stack.admin)).status_code == 404


def test_the_stack_smokes_pass_against_it(stack: Stack) -> None:
    from lakehouse.verify.chain import SMOKES, Target, run_chain

    target = Target(auth_url=stack.url, admin_key=stack.admin, stack=True)
    stack_smokes = [s for s in SMOKES if s.needs == "stack"]
    assert len(stack_smokes) == 3
    saved = list(SMOKES)
    SMOKES[:] = stack_smokes
    try:
        outcomes, _ = run_chain(target, echo=lambda _line: None)
    finally:
        SMOKES[:] = saved
    assert [o.ok for o in outcomes] == [True, True, True], [o.detail for o in outcomes]


def test_zz_a_stop_drains_and_leaves_no_process(stack: Stack) -> None:
    pids = [int(p["pid"]) for p in stack.status().values() if p["pid"]]  # type: ignore[call-overload]
    answers: list[httpx.Response] = []

    def slow_query() -> None:  # about 2 s of DuckDB: in flight when the stop comes
        sql = {"sql": "SELECT sum(range % 7) AS s FROM range(500000000)"}
        answers.append(httpx.post(stack.url + "/v1/sql", json=sql, headers=_auth(stack.admin), timeout=60))

    in_flight = threading.Thread(target=slow_query)
    in_flight.start()
    time.sleep(0.7)
    stack.proc.send_signal(signal.SIGTERM)
    in_flight.join(60)
    assert [a.status_code for a in answers] == [200]  # drained: answered, not cut off
    assert answers[0].json()["rows"] == [[sum(i % 7 for i in range(7)) * (500000000 // 7) + sum(range(500000000 % 7))]]
    assert stack.proc.wait(timeout=60) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert all(p["state"] == "stopped" for p in stack.status().values())
