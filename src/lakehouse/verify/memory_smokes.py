"""The agent-memory smokes of ``lakehouse verify``: each works in a fresh tenant and forgets what it made."""

from __future__ import annotations

import uuid

from lakehouse.verify.chain import Target, _any_url, check, check_problem, smoke


def _memory_scope() -> dict[str, str]:
    return {"tenant": f"lakehouse-verify-{uuid.uuid4().hex[:12]}", "agent_id": "verify"}


@smoke("memory: add, dedup, stale update refused, revise, cycle refused")
def _memory_versions(t: Target) -> str:
    url, key = _any_url(t)
    scope = _memory_scope()
    with t.client(url, key) as c:
        added = c.post("/v1/memories", json={"scope": scope, "content": "The office opens at 9"})
        check(added.status_code == 201, f"add -> {added.status_code}: {added.text[:200]}")
        mid = added.json()["id"]
        again = c.post("/v1/memories", json={"scope": scope, "content": "the office OPENS at 9"})
        check(again.status_code == 200 and again.json()["id"] == mid, f"the same words again: {again.text[:200]}")
        c.patch(f"/v1/memories/{mid}", json={"scope": scope, "expected_version": 1, "content": "Opens at 8"})
        stale = c.patch(f"/v1/memories/{mid}", json={"scope": scope, "expected_version": 1, "content": "Opens at 7"})
        check_problem(stale, 409, "version_conflict")
        successor = c.post(f"/v1/memories/{mid}/revise", json={"scope": scope, "content": "Opens at 10"}).json()
        head = c.get(f"/v1/memories/{mid}", params=scope).json()
        check(head["superseded_by"] == successor["id"], f"after revise: {head}")
        cycle = c.post(f"/v1/memories/{successor['id']}/revise", json={"scope": scope, "successor_id": mid})
        check_problem(cycle, 409, "revision_cycle")
        for memory_id in (mid, successor["id"]):
            c.post(f"/v1/memories/{memory_id}/forget", json={"scope": scope, "reason": "verify cleanup"})
    return "deduplicated; 409 version_conflict on a stale version; revised; 409 revision_cycle"


@smoke("memory: retire (search leaves it out), restore, history complete, forget leaves a tombstone (SQL too)")
def _memory_lifecycle(t: Target) -> str:
    url, key = _any_url(t)
    scope = _memory_scope()
    with t.client(url, key) as c:
        mid = c.post("/v1/memories", json={"scope": scope, "content": "The door code is 4711"}).json()["id"]
        retired = c.post(f"/v1/memories/{mid}/retire", json={"scope": scope, "reason": "rotated"}).json()
        check(retired["status"] == "retired", f"after retire: {retired}")
        active = c.get("/v1/memories", params={**scope, "status": "active"}).json()["items"]
        check(active == [], f"a retired memory is listed as active: {active}")
        found = c.post("/v1/memories/search", json={"scope": scope, "query": "door code", "k": 5}).json()
        check(found["results"] == [] and found["suppressed"] == 1, f"search after retire: {found}")
        c.post(f"/v1/memories/{mid}/restore", json={"scope": scope})
        ops = [e["op"] for e in c.get(f"/v1/memories/{mid}/history", params=scope).json()["events"]]
        check(ops == ["add", "retire", "restore"], f"history: {ops}")
        gone = c.post(f"/v1/memories/{mid}/forget", json={"scope": scope, "reason": "verify cleanup"})
        check(gone.status_code == 200 and gone.json()["forgotten"] is True, f"forget -> {gone.text[:200]}")
        check_problem(c.get(f"/v1/memories/{mid}", params=scope), 404, "memory_not_found")
        audit = c.post(
            "/v1/sql",
            json={
                "sql": "SELECT op, reason, after FROM memory.events WHERE memory_id = ? ORDER BY id",
                "params": [mid],
            },
        )
        check(audit.status_code == 200, f"memory.events over /v1/sql -> {audit.status_code}: {audit.text[:200]}")
        rows = audit.json()["rows"]
        check(
            [r[0] for r in rows] == ["add", "retire", "restore", "forget"] and all(r[2] is None for r in rows),
            f"memory.events after forget: {rows}",
        )
    return "retired, left out of search, restored; history add, retire, restore; forgotten: 404, tombstone in SQL"


@smoke("memory: a pathway with a retired step; a playbook promoted and found")
def _memory_pathways(t: Target) -> str:
    url, key = _any_url(t)
    scope = _memory_scope()
    with t.client(url, key) as c:
        run = c.post(
            "/v1/pathways",
            json={
                "scope": scope,
                "summary": "Restart a stuck worker",
                "steps": [{"action": "drain"}, {"action": "kill"}],
            },
        )
        check(run.status_code == 201, f"start -> {run.status_code}: {run.text[:200]}")
        pid = run.json()["id"]
        c.post(f"/v1/pathways/{pid}/steps/s2/retire", json={"scope": scope, "reason": "too harsh"})
        c.post(f"/v1/pathways/{pid}/end", json={"scope": scope, "outcome": "success"})
        read = c.get(f"/v1/pathways/{pid}", params=scope).json()
        actions = [s["action"] for s in read["steps"]]
        check(actions == ["drain"] and read["suppressed_steps"] == 1, f"pathway read back: {actions}")
        book = c.post(
            "/v1/playbooks",
            json={"scope": scope, "name": "Worker restart", "trigger": "a worker hangs", "sources": [pid]},
        ).json()
        check([s["action"] for s in book["steps"]] == ["drain"], f"playbook steps: {book.get('steps')}")
        c.post(f"/v1/playbooks/{book['id']}/uses", json={"scope": scope, "outcome": "success"})
        found = c.post("/v1/playbooks/search", json={"scope": scope, "task": "a worker hangs"}).json()["results"]
        check(bool(found) and found[0]["id"] == book["id"], f"playbook search: {found[:1]}")
        for memory_id in (pid, book["id"]):
            c.post(f"/v1/memories/{memory_id}/forget", json={"scope": scope, "reason": "verify cleanup"})
    return "retired step left out (1 suppressed); promoted without it; found with similarity x confidence"
