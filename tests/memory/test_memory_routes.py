"""/v1/memories over HTTP (in-process app): the operations' round trip, If-Match and ETag, scopes in the query,
the actor, and refusals in the one problem shape that change nothing."""

from __future__ import annotations

from typing import Any

from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

SCOPE = {"tenant": "acme", "agent_id": "support-bot"}
QUERY = {"tenant": "acme", "agent_id": "support-bot"}


def _add(client: AppClient, content: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/memories", json={"scope": SCOPE, "kind": "fact", "content": content, **fields})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def test_round_trip(client: AppClient) -> None:
    created = client.post(
        "/v1/memories",
        json={"scope": SCOPE, "content": "Refunds take 5 days", "tags": ["billing"], "actor": "bot-1"},
    )
    assert created.status_code == 201 and created.headers["etag"] == '"1"'
    memory = created.json()
    assert memory["kind"] == "fact" and memory["deduplicated"] is False and memory["scope"] == SCOPE
    again = client.post("/v1/memories", json={"scope": SCOPE, "content": "refunds take 5 DAYS"})
    assert again.status_code == 200 and again.json()["id"] == memory["id"] and again.json()["deduplicated"] is True
    mid = memory["id"]
    got = client.get(f"/v1/memories/{mid}", params=QUERY)
    assert got.json()["content"] == "Refunds take 5 days" and got.headers["etag"] == '"1"'
    assert_problem(client.get(f"/v1/memories/{mid}", params={"tenant": "acme"}), 404, "memory_not_found")
    updated = client.patch(
        f"/v1/memories/{mid}",
        json={"scope": SCOPE, "content": "Refunds take 3 days", "reason": "policy"},
        headers={"If-Match": '"1"'},
    )
    assert updated.status_code == 200 and updated.json()["version"] == 2 and updated.headers["etag"] == '"2"'
    successor = client.post(f"/v1/memories/{mid}/revise", json={"scope": SCOPE, "content": "Refunds take 2 days"})
    assert successor.status_code == 200 and successor.json()["id"] != mid
    sid = successor.json()["id"]
    retired = client.post(f"/v1/memories/{sid}/retire", json={"scope": SCOPE, "reason": "policy withdrawn"})
    assert retired.json()["status"] == "retired"
    restored = client.post(f"/v1/memories/{sid}/restore", json={"scope": SCOPE})
    assert restored.json()["status"] == "active"
    found = client.post("/v1/memories/search", json={"scope": SCOPE, "query": "refunds", "k": 5}).json()
    assert [r["id"] for r in found["results"]] == [sid] and found["suppressed"] == 1
    assert found["results"][0]["matched"]["keyword"]["terms"] == ["refunds"]
    listed = client.get("/v1/memories", params={**QUERY, "status": ["active"]}).json()
    assert [m["id"] for m in listed["items"]] == [sid] and listed["next"] is None
    history = client.get(f"/v1/memories/{mid}/history", params=QUERY).json()
    assert [e["op"] for e in history["events"]] == ["add", "update", "revise"]
    assert history["events"][0]["actor"] == "bot-1" and history["lineage"]["current"] == sid
    gone = client.post(f"/v1/memories/{sid}/forget", json={"scope": SCOPE, "reason": "asked"})
    assert gone.json()["forgotten"] is True
    assert_problem(client.get(f"/v1/memories/{sid}", params=QUERY), 404, "memory_not_found")
    rows = client.post("/v1/sql", json={"sql": "SELECT 1"}).status_code
    assert rows == 200


def test_refusals_are_problems_and_change_nothing(client: AppClient) -> None:
    memory = _add(client, "The VPN needs MFA")
    mid = memory["id"]
    other = _add(client, "MFA uses TOTP")
    client.post(f"/v1/memories/{other['id']}/revise", json={"scope": SCOPE, "successor_id": mid})

    def state() -> Any:
        return client.get(f"/v1/memories/{mid}/history", params=QUERY).json()

    before = state()
    stale = client.patch(f"/v1/memories/{mid}", json={"scope": SCOPE, "content": "x"}, headers={"If-Match": '"7"'})
    body = assert_problem(stale, 409, "version_conflict")
    assert body["errors"][0]["current_version"] == 1
    missing = assert_problem(
        client.patch(f"/v1/memories/{mid}", json={"scope": SCOPE, "content": "x"}), 422, "required"
    )
    assert missing["errors"][0]["pointer"] == "/expected_version"
    assert_problem(
        client.patch(f"/v1/memories/{mid}", json={"scope": SCOPE, "content": "x"}, headers={"If-Match": "soon"}),
        422,
        "validation_failed",
    )
    blank = assert_problem(
        client.post("/v1/memories", json={"scope": {"tenant": ""}, "content": "x"}), 422, "min_length"
    )
    assert blank["errors"][0]["pointer"] == "/scope/tenant"
    assert_problem(client.post("/v1/memories", json={"scope": SCOPE, "content": "x", "colour": 1}), 422)
    assert_problem(client.post(f"/v1/memories/{mid}/retire", json={"scope": SCOPE}), 422)
    assert_problem(client.post(f"/v1/memories/{mid}/restore", json={"scope": SCOPE}), 409, "memory_not_retired")
    cycle = client.post(f"/v1/memories/{mid}/revise", json={"scope": SCOPE, "successor_id": other["id"]})
    problem = assert_problem(cycle, 409, "revision_cycle")
    assert problem["errors"][0]["cycle"] == [mid, other["id"], mid]
    assert_problem(
        client.post(f"/v1/memories/{other['id']}/retire", json={"scope": SCOPE, "reason": "x"}),
        409,
        "memory_superseded",
    )
    after = state()
    assert after["events"] == before["events"] and after["memory"] == before["memory"]
