"""The memory tables in read-only SQL (``memory.memories``, ``memory.revisions``, ``memory.events``): an operator's
audit through /v1/sql, current after every change, never writable, never showing forgotten content or API keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakehouse import Lakehouse
from lakehouse.config import Settings
from lakehouse.memory import AddMemory
from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

SCOPE = {"tenant": "acme", "user_id": "u-1"}


def _sql(client: AppClient, sql: str) -> list[list[Any]]:
    response = client.post("/v1/sql", json={"sql": sql})
    assert response.status_code == 200, response.text
    rows: list[list[Any]] = response.json()["rows"]
    return rows


def _memory(client: AppClient, content: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/memories", json={"scope": SCOPE, "content": content, "actor": "bot", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_operator_audits_memory_with_sql(make_client: Callable[..., AppClient], opsdb_url: str) -> None:
    client = make_client(opsdb={"url": opsdb_url}, embed={"provider": "hashing"})
    first = _memory(client, "Refunds take 5 days", tags=["billing"], metadata={"source": "faq"})
    other = client.post("/v1/memories", json={"scope": {"tenant": "beta"}, "content": "Another tenant's fact"})
    assert other.status_code == 201
    assert _sql(
        client,
        "SELECT id, tenant, user_id, content, tags->>0, meta->>'source', version FROM memory.memories "
        "WHERE tenant = 'acme'",
    ) == [[first["id"], "acme", "u-1", "Refunds take 5 days", "billing", "faq", 1]]

    # every change is visible to the next statement: the copy follows the events
    patched = client.patch(
        f"/v1/memories/{first['id']}",
        json={
            "scope": SCOPE,
            "content": "Refunds take 3 days",
            "expected_version": 1,
            "reason": "policy",
            "actor": "ops",
        },
    )
    assert patched.status_code == 200, patched.text
    successor = client.post(
        f"/v1/memories/{first['id']}/revise", json={"scope": SCOPE, "content": "Refunds take 2 days"}
    )
    assert successor.status_code == 200
    assert _sql(client, f"SELECT status, version, superseded_by FROM memory.memories WHERE id = '{first['id']}'") == [
        ["superseded", 3, successor.json()["id"]]
    ]
    assert _sql(
        client, f"SELECT version, content, status FROM memory.revisions WHERE memory_id = '{first['id']}' ORDER BY 1"
    ) == [
        [1, "Refunds take 5 days", "active"],
        [2, "Refunds take 3 days", "active"],
        [3, "Refunds take 3 days", "superseded"],
    ]
    events = _sql(
        client,
        "SELECT op, actor, reason, version, before->>'content', after->>'content', scope_key->>0 "
        f"FROM memory.events WHERE memory_id = '{first['id']}' ORDER BY id",
    )
    assert events == [
        ["add", "bot", None, 1, None, "Refunds take 5 days", "acme"],
        ["update", "ops", "policy", 2, "Refunds take 5 days", "Refunds take 3 days", "acme"],
        ["revise", "anonymous", None, 3, "Refunds take 3 days", "Refunds take 3 days", "acme"],
    ]
    columns = client.post("/v1/sql", json={"sql": "SELECT recorded_at, tags, id FROM memory.memories LIMIT 1"})
    assert [c["type"] for c in columns.json()["columns"]] == ["TIMESTAMP WITH TIME ZONE", "JSON", "VARCHAR"]
    times = _sql(client, "SELECT recorded_at <= now() FROM memory.events ORDER BY id")  # ``at``, a keyword, renamed
    assert times == [[True]] * 6
    # joins with the lake's own catalog work in the one statement
    joined = "SELECT m.status, e.op, count(*) FROM memory.events e JOIN memory.memories m ON m.id = e.memory_id "
    assert _sql(client, joined + "GROUP BY ALL ORDER BY ALL") == [
        ["active", "add", 2],  # the successor and the other tenant's memory
        ["active", "supersede", 1],  # the successor's side of the revise
        ["superseded", "add", 1],
        ["superseded", "revise", 1],
        ["superseded", "update", 1],
    ]


def test_the_memory_tables_are_read_only_and_show_nothing_else(
    make_client: Callable[..., AppClient],
) -> None:
    client = make_client(embed={"provider": "hashing"})
    _memory(client, "A fact")
    before = _sql(client, "SELECT * FROM memory.memories")
    for statement in (
        "DELETE FROM memory.memories",
        "UPDATE memory.memories SET content = 'x'",
        "INSERT INTO memory.events (op) VALUES ('add')",
        "CREATE TABLE memory.main.copy AS SELECT * FROM memory.memories",
        "DROP TABLE memory.memories",
    ):
        assert_problem(client.post("/v1/sql", json={"sql": statement}), 403, "forbidden_statement")
    for hidden in ("api_keys", "embedding_cache", "memory_revisions", "alembic_version"):
        answer = client.post("/v1/sql", json={"sql": f"SELECT * FROM memory.{hidden}"})
        assert_problem(answer, 403, "permission_denied")  # the sandbox knows the three tables, nothing else
    assert _sql(client, "SELECT * FROM memory.memories") == before
    assert _sql(client, "SELECT table_name FROM duckdb_tables() WHERE database_name = 'memory' ORDER BY 1") == [
        ["events"],
        ["memories"],
        ["revisions"],
    ]


def test_forget_leaves_no_content_in_the_sql_copy(make_client: Callable[..., AppClient], opsdb_url: str) -> None:
    client = make_client(opsdb={"url": opsdb_url}, embed={"provider": "hashing"})
    secret = _memory(client, "My passport number is X1234")
    client.patch(
        f"/v1/memories/{secret['id']}",
        json={"scope": SCOPE, "content": "Passport X1234, renewed", "expected_version": 1},
    )
    find = (
        "SELECT (SELECT count(*) FROM memory.memories WHERE content LIKE '%X1234%') "
        "+ (SELECT count(*) FROM memory.revisions WHERE content LIKE '%X1234%') "
        "+ (SELECT count(*) FROM memory.events WHERE CAST(before AS VARCHAR) LIKE '%X1234%' "
        "OR CAST(after AS VARCHAR) LIKE '%X1234%')"
    )
    assert _sql(client, find) == [[5]]  # head, two revisions, the add's after, the update's before and after
    forgotten = client.post(f"/v1/memories/{secret['id']}/forget", json={"scope": SCOPE, "reason": "user asked"})
    assert forgotten.status_code == 200
    # the process's copy went with the FORGET itself, before any query asked
    lakehouse = client.lakehouse
    assert lakehouse is not None and lakehouse.queries._current.memory.token is None
    assert _sql(client, find) == [[0]]
    assert _sql(client, f"SELECT op, reason FROM memory.events WHERE memory_id = '{secret['id']}' ORDER BY id") == [
        ["add", None],
        ["update", None],
        ["forget", "user asked"],
    ]


def test_another_process_sees_changes(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path / "data", "embed": {"provider": "hashing"}})
    with Lakehouse(settings) as writer, Lakehouse(settings) as reader:
        count = "SELECT count(*) FROM memory.memories"
        assert reader.sql(count, output="rows") == [(0,)]
        writer.memory.add(AddMemory(scope={"tenant": "t"}, kind="fact", content="one"))
        assert reader.sql(count, output="rows") == [(1,)]
        writer.memory.add(AddMemory(scope={"tenant": "t"}, kind="fact", content="two"))
        assert reader.sql(count, output="rows") == [(2,)]
        assert reader.sql("SELECT content FROM memory.memories ORDER BY recorded_at", output="rows") == [
            ("one",),
            ("two",),
        ]


def test_memory_is_a_reserved_namespace(client: AppClient) -> None:
    response = client.post("/v1/datasets", json={"name": "memory.notes", "columns": [{"name": "a", "type": "INTEGER"}]})
    assert_problem(response, 400, "invalid_name")
