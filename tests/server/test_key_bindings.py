"""Keys bound to a tenant and to lake namespaces: every memory, pathway, playbook, dataset, ingest, vector and SQL
route answers a bound key only within its binding, and no route returns a byte of another tenant's data."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

TENANTS = ["acme", "globex", "initech", "umbrella", "hooli"]
ND = {"content-type": "application/x-ndjson"}


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + secret}


@pytest.fixture
def stack(make_client: Callable[..., AppClient]) -> tuple[AppClient, dict[str, dict[str, str]]]:
    """An app with auth on, a key per tenant (read, write, sql), an unbound admin and an unbound analyst."""
    client = make_client(auth={"enabled": True}, embed={"provider": "hashing"})
    assert client.lakehouse is not None
    keys = client.lakehouse.keys
    headers = {t: _auth(keys.create(t, "read,write,sql", tenant=t).secret) for t in TENANTS}
    headers["admin"] = _auth(keys.create("root", "admin").secret)
    headers["analyst"] = _auth(keys.create("analyst", "read,write,sql").secret)
    return client, headers


def _secret(tenant: str) -> str:
    return f"secret-of-{tenant}-7f3a"


def _seed(client: AppClient, headers: dict[str, dict[str, str]]) -> dict[str, str]:
    ids = {}
    for tenant in TENANTS:
        response = client.post(
            "/v1/memories",
            json={"scope": {"tenant": tenant}, "content": _secret(tenant), "tags": [tenant]},
            headers=headers[tenant],
        )
        assert response.status_code == 201, response.text
        ids[tenant] = response.json()["id"]
    return ids


def _without_request_id(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    body.pop("request_id", None)
    return body


def test_another_tenants_memory_is_missing(stack: tuple[AppClient, dict[str, dict[str, str]]]) -> None:
    client, headers = stack
    ids = _seed(client, headers)
    acme, globex = headers["acme"], headers["globex"]
    theirs = client.get(f"/v1/memories/{ids['acme']}", params={"tenant": "acme"}, headers=globex)
    assert_problem(theirs, 404, "memory_not_found")
    missing = client.get(f"/v1/memories/{ids['acme']}", params={"tenant": "globex"}, headers=globex)
    assert_problem(missing, 404, "memory_not_found")
    assert _without_request_id(theirs) == _without_request_id(missing)  # no existence leak
    scope = {"tenant": "acme"}
    for method, path, body in [
        ("PATCH", f"/v1/memories/{ids['acme']}", {"scope": scope, "content": "pwned", "expected_version": 1}),
        ("POST", f"/v1/memories/{ids['acme']}/retire", {"scope": scope, "reason": "pwned"}),
        ("POST", f"/v1/memories/{ids['acme']}/forget", {"scope": scope, "reason": "pwned"}),
        ("POST", f"/v1/memories/{ids['acme']}/revise", {"scope": scope, "content": "pwned"}),
    ]:
        assert_problem(client.request(method, path, json=body, headers=globex), 404, "memory_not_found")
    history = client.get(f"/v1/memories/{ids['acme']}/history", params=scope, headers=globex)
    assert_problem(history, 404, "memory_not_found")
    for method, path, body in [
        ("POST", "/v1/memories", {"scope": scope, "content": "planted"}),
        ("POST", "/v1/memories/search", {"scope": scope, "query": "secret"}),
        ("POST", "/v1/pathways", {"scope": scope, "summary": "t"}),
        ("POST", "/v1/playbooks/search", {"scope": scope, "task": "t"}),
    ]:
        assert_problem(client.request(method, path, json=body, headers=globex), 403, "tenant_forbidden")
    assert_problem(client.get("/v1/memories", params=scope, headers=globex), 403, "tenant_forbidden")
    assert_problem(client.get("/v1/pathways", params=scope, headers=globex), 403, "tenant_forbidden")
    # nothing changed: acme's memory is as it was, with its own key's name as the actor
    own = client.get(f"/v1/memories/{ids['acme']}", params=scope, headers=acme).json()
    assert own["content"] == _secret("acme") and own["version"] == 1 and own["status"] == "active"
    events = client.get(f"/v1/memories/{ids['acme']}/history", params=scope, headers=acme).json()["events"]
    assert [e["actor"] for e in events] == ["acme"]
    listed = client.get("/v1/memories", params=scope, headers=acme).json()["items"]
    assert [m["content"] for m in listed] == [_secret("acme")]


def test_pathways_and_playbooks_of_another_tenant(stack: tuple[AppClient, dict[str, dict[str, str]]]) -> None:
    client, headers = stack
    scope = {"tenant": "acme"}
    started = client.post(
        "/v1/pathways",
        json={"scope": scope, "summary": "refund", "steps": [{"action": "look"}]},
        headers=headers["acme"],
    )
    assert started.status_code == 201, started.text
    pid = started.json()["id"]
    globex = headers["globex"]
    assert_problem(client.get(f"/v1/pathways/{pid}", params=scope, headers=globex), 404, "memory_not_found")
    steps = {"scope": scope, "steps": [{"action": "planted"}]}
    assert_problem(client.post(f"/v1/pathways/{pid}/steps", json=steps, headers=globex), 404, "memory_not_found")
    end = {"scope": scope, "outcome": "success"}
    assert_problem(client.post(f"/v1/pathways/{pid}/end", json=end, headers=globex), 404, "memory_not_found")
    assert client.get(f"/v1/pathways/{pid}", params=scope, headers=headers["acme"]).status_code == 200


def test_sql_reads_only_the_keys_tenant(stack: tuple[AppClient, dict[str, dict[str, str]]]) -> None:
    client, headers = stack
    _seed(client, headers)

    def sql(who: str, text: str) -> Any:
        return client.post("/v1/sql", json={"sql": text}, headers=headers[who])

    for tenant in TENANTS:
        rows = sql(tenant, "SELECT tenant, content FROM memory.memories ORDER BY ALL").json()["rows"]
        assert rows == [[tenant, _secret(tenant)]]
        assert sql(tenant, "SELECT count(*) FROM memory.main.memories WHERE tenant <> 'x'").json()["rows"] == [[1]]
        revisions = sql(tenant, "SELECT count(*) FROM memory.revisions").json()["rows"]
        events = sql(tenant, "SELECT count(DISTINCT memory_id) FROM memory.events").json()["rows"]
        assert revisions == [[1]] and events == [[1]]
        sneaky = sql(tenant, "WITH m AS (SELECT * FROM memory.memories) SELECT count(*) FROM m, memory.events e")
        assert sneaky.json()["rows"] == [[1]]
    everyone = sql("admin", "SELECT count(*) FROM memory.memories").json()["rows"]
    assert everyone == [[len(TENANTS)]]
    assert_problem(sql("analyst", "SELECT * FROM memory.memories"), 403, "permission_denied")
    assert_problem(sql("analyst", "SELECT * FROM memory.events"), 403, "permission_denied")


def test_no_route_returns_another_tenants_bytes(stack: tuple[AppClient, dict[str, dict[str, str]]]) -> None:
    client, headers = stack
    ids = _seed(client, headers)
    for tenant in TENANTS:
        others = [_secret(t) for t in TENANTS if t != tenant]
        h = headers[tenant]
        answers = [client.get("/v1/memories", params={"tenant": tenant}, headers=h)]
        answers.append(
            client.post("/v1/memories/search", json={"scope": {"tenant": tenant}, "query": "secret"}, headers=h)
        )
        for other, mid in ids.items():
            answers.append(client.get(f"/v1/memories/{mid}", params={"tenant": other}, headers=h))
            answers.append(client.get(f"/v1/memories/{mid}/history", params={"tenant": tenant}, headers=h))
            answers.append(client.get("/v1/memories", params={"tenant": other}, headers=h))
        for text in [
            "SELECT * FROM memory.memories",
            "SELECT * FROM memory.revisions",
            "SELECT * FROM memory.events",
            "SELECT * FROM duckdb_tables()",
            "SELECT string_agg(content, ',') FROM memory.main.memories",
        ]:
            answers.append(client.post("/v1/sql", json={"sql": text}, headers=h))
            answers.append(client.post("/v1/sql", json={"sql": text}, headers={**h, "Accept": "text/csv"}))
        for answer in answers:
            assert answer.status_code < 500, answer.text
            assert not any(secret in answer.text for secret in others), answer.text


def test_namespaces_limit_datasets_ingest_vectors_and_sql(make_client: Callable[..., AppClient]) -> None:
    client = make_client(auth={"enabled": True}, embed={"provider": "hashing"})
    assert client.lakehouse is not None
    admin = _auth(client.lakehouse.keys.create("root", "admin").secret)
    crm = _auth(client.lakehouse.keys.create("crm", "read,write,sql", namespaces="crm").secret)
    ok = client.post("/v1/datasets/crm.people/ingest?create=true", content=b'{"id": 1}\n', headers={**crm, **ND})
    assert ok.status_code == 200, ok.text
    made = client.post(
        "/v1/datasets/support.tickets/ingest?create=true", content=b'{"body": "private"}\n', headers={**admin, **ND}
    )
    assert made.status_code == 200
    before = client.lakehouse.lake.current_snapshot()
    refused = [
        client.post("/v1/datasets/support.tickets/ingest", content=b'{"body": "x"}\n', headers={**crm, **ND}),
        client.post("/v1/datasets/hr.pay/ingest?create=true", content=b'{"x": 1}\n', headers={**crm, **ND}),
        client.post("/v1/datasets", json={"name": "hr.pay", "columns": [{"name": "x", "type": "bigint"}]}, headers=crm),
        client.get("/v1/datasets/support.tickets", headers=crm),
        client.get("/v1/datasets/support.tickets/snapshots", headers=crm),
        client.get("/v1/datasets/support.tickets/schema.json", headers=crm),
        client.delete("/v1/datasets/support.tickets", headers=crm),
        client.get("/v1/datasets/people", headers=crm),  # the main namespace is not crm's either
        client.post("/v1/sql", json={"sql": "SELECT * FROM support.tickets"}, headers=crm),
        client.post("/v1/sql", json={"sql": "SELECT * FROM crm.people, lake.support.tickets"}, headers=crm),
        client.post("/v1/schemas", json={"name": "t", "from_dataset": "support.tickets"}, headers=crm),
        client.post("/v1/collections", json={"name": "support_faq", "dim": 4}, headers=crm),
    ]
    for response in refused:
        assert_problem(response, 403, "permission_denied")
    assert client.lakehouse.lake.current_snapshot() == before
    listed = client.get("/v1/datasets", headers=crm).json()["items"]
    assert listed == [{"namespace": "crm", "name": "people"}]
    tables = client.post("/v1/sql", json={"sql": "SELECT schema_name, table_name FROM duckdb_tables()"}, headers=crm)
    assert tables.json()["rows"] == [["crm", "people"]]
    assert client.post("/v1/sql", json={"sql": "SELECT count(*) FROM crm.people"}, headers=crm).json()["rows"] == [[1]]
    assert client.post("/v1/collections", json={"name": "crm_docs", "dim": 4}, headers=crm).status_code == 201
    assert client.post("/v1/collections", json={"name": "support_faq", "dim": 4}, headers=admin).status_code == 201
    names = [c["name"] for c in client.get("/v1/collections", headers=crm).json()["items"]]
    assert names == ["crm_docs"]
    assert_problem(client.get("/v1/collections/support_faq", headers=crm), 403, "permission_denied")
    point = {"points": [{"id": "p", "vector": [1, 0, 0, 0]}]}
    assert_problem(client.post("/v1/collections/support_faq/upsert", json=point, headers=crm), 403, "permission_denied")


def test_keys_route_and_listing_show_bindings(make_client: Callable[..., AppClient]) -> None:
    client = make_client(auth={"enabled": True})
    assert client.lakehouse is not None
    admin = _auth(client.lakehouse.keys.create("root", "admin").secret)
    body = {"name": "bot", "scopes": ["read", "write"], "tenant": "acme", "namespaces": ["crm", "support"]}
    created = client.post("/v1/keys", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["key"]["tenant"] == "acme" and created.json()["key"]["namespaces"] == ["crm", "support"]
    listed = {k["name"]: k for k in client.get("/v1/keys", headers=admin).json()["items"]}
    assert listed["bot"]["tenant"] == "acme" and listed["root"]["tenant"] is None
    bad = {"name": "x", "scopes": ["read"], "namespaces": ["Not A Namespace"]}
    assert_problem(client.post("/v1/keys", json=bad, headers=admin), 400, "invalid_name")
    assert json.loads(created.text)["secret"].startswith("lh_")
