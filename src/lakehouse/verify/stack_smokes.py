"""Smokes of a stack (``lakehouse up``), run when the target is a stack's gateway: every process up, a daemon that
answers only the gateway, and a daemon stopped and restarted while the rest keep answering."""

from __future__ import annotations

import time

import httpx

from lakehouse.verify.chain import Target, _any_url, check, check_problem, smoke

# validatord: its routes are quick to probe, and no other smoke needs it while it restarts
_DRILLED = "validatord"
_PROBE = ("POST", "/v1/validate", {"schema": {"type": "object"}, "payload": {}})


def _state(t: Target) -> dict[str, dict[str, object]]:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        answer = c.get("/v1/stack")
        check(answer.status_code == 200, f"GET /v1/stack -> {answer.status_code}")
        return {p["name"]: p for p in answer.json()["processes"]}


@smoke("stack: every process behind the gateway is up", needs="stack")
def _stack_up(t: Target) -> str:
    processes = _state(t)
    down = [name for name, p in processes.items() if p["state"] != "up"]
    check(not down, f"not up: {down}")
    ports = [p["port"] for p in processes.values()]
    check(len(set(ports)) == len(ports), f"two processes on one port: {ports}")
    return f"{len(processes)} processes up ({', '.join(sorted(processes))})"


@smoke("stack: a daemon answers only the gateway", needs="stack")
def _daemon_refuses(t: Target) -> str:
    queryd = _state(t).get("queryd")
    if queryd is None:
        return "queryd is not in this stack: nothing to ask"
    url = f"http://{queryd['host']}:{queryd['port']}"
    try:
        direct = httpx.post(url + "/v1/sql", json={"sql": "SELECT 1"}, timeout=10)
    except httpx.TransportError:
        return f"queryd's port {queryd['port']} cannot be reached from here at all"
    check_problem(direct, 403, "forbidden")
    check(httpx.get(url + "/health", timeout=10).status_code == 200, "a daemon's /health did not answer")
    return f"POST /v1/sql on queryd's own port {queryd['port']} -> 403 forbidden; its /health answers"


@smoke("stack: a daemon stopped: its routes 503, the rest answer, then it is back", needs="stack")
def _restart_drill(t: Target) -> str:
    url, key = _any_url(t)
    method, path, body = _PROBE
    before = _state(t)
    if _DRILLED not in before:
        return f"{_DRILLED} is not in this stack"
    with t.client(url, key) as c:
        check(c.request(method, path, json=body).status_code == 200, f"{path} did not answer before the drill")
        stopped = c.post("/v1/stack/restart", json={"service": _DRILLED})
        check(stopped.status_code == 200 and stopped.json()["stopped"], f"restart -> {stopped.status_code}")
        started = time.perf_counter()
        check_problem(c.request(method, path, json=body), 503, "service_unavailable")
        check(c.post("/v1/sql", json={"sql": "SELECT 1"}).status_code == 200, "another daemon stopped answering")
        deadline = time.monotonic() + 60
        while c.request(method, path, json=body).status_code != 200:
            check(time.monotonic() < deadline, f"{_DRILLED} was not back within 60 s")
            time.sleep(0.1)
        back = (time.perf_counter() - started) * 1000
    after = _state(t)[_DRILLED]
    check(after["pid"] != before[_DRILLED]["pid"], "the same process answers")
    restarts = int(str(after["restarts"]))
    return (
        f"{_DRILLED}: 503 service_unavailable while down, SQL answered meanwhile, back in {back:.0f} ms "
        f"(restarts {restarts})"
    )
