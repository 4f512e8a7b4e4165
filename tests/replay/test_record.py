"""Recording live traffic: exchanges of recorded routes land in replay.exchanges (secrets and excluded routes never),
masked with observerd's rules; SQL reads them with an unbound admin key only; exported, they replay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.app import create_app
from lakehouse.blobs.names import RECORDINGS_BUCKET
from lakehouse.cli import cli
from lakehouse.core import Lakehouse
from lakehouse.replay import read_cases, replay
from lakehouse.verify.ephemeral import ServerThread
from tests.asgi import AppClient
from tests.conftest import make_settings


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[AppClient, Lakehouse]]:
    settings = make_settings(
        tmp_path / "data",
        auth={"enabled": True},
        embed={"provider": "hashing"},
        record={"enabled": True, "flush_ms": 10, "max_body_bytes": 1000},
    )
    lakehouse = Lakehouse(settings)
    client = AppClient(create_app(settings, lakehouse=lakehouse), lakehouse=lakehouse)
    yield client, lakehouse
    client.close()
    lakehouse.close()


def _flush(lakehouse: Lakehouse, count: int) -> None:
    """Wait for the writer thread to have written ``count`` exchanges."""
    import time

    deadline = time.monotonic() + 30
    while len(lakehouse.recordings.export()) < count:
        assert time.monotonic() < deadline, "the recordings were not written"
        time.sleep(0.05)


def test_exchanges_are_recorded_masked_and_without_secrets(recorded: tuple[AppClient, Lakehouse]) -> None:
    client, lakehouse = recorded
    admin = lakehouse.keys.create("admin", ["admin"]).secret
    auth = {"Authorization": f"Bearer {admin}", "Cookie": "session=s3cr3t", "X-Request-ID": "rec-1"}
    assert client.post("/v1/keys", json={"name": "k2", "scopes": ["read"]}, headers=auth).status_code == 201
    scope = {"tenant": "acme", "user_id": "u1"}
    added = client.post("/v1/memories", json={"scope": scope, "content": "mail me at ada@example.com"}, headers=auth)
    assert added.status_code == 201
    big = client.post(
        "/v1/memories", json={"scope": scope, "content": "x" * 5000}, headers={**auth, "X-Request-ID": "rec-2"}
    )
    assert big.status_code == 201
    _flush(lakehouse, 2)
    exchanges = lakehouse.recordings.export()
    assert [e.request.path for e in exchanges] == ["/v1/memories", "/v1/memories"]  # /v1/keys never
    first = exchanges[0]
    assert first.request_id == "rec-1" and len({e.id for e in exchanges}) == 2
    assert "authorization" not in first.request.headers and "cookie" not in first.request.headers
    assert first.request.body.json_value["content"] == "mail me at [REDACTED]"  # type: ignore[index]
    assert first.response is not None and first.response.status == 201
    assert first.response.body.json_value["id"] == added.json()["id"]  # type: ignore[index]
    assert exchanges[1].request.body.blob is not None  # past record.max_body_bytes: stored as a blob
    # SQL: an unbound admin key reads recorded traffic; a key bound to a tenant does not
    sql = {"sql": "SELECT count(*) AS n, min(status) AS s FROM replay.exchanges"}
    assert client.post("/v1/sql", json=sql, headers=auth).json()["rows"] == [[2, 201]]
    bound = lakehouse.keys.create("acme-sql", ["read", "sql"], tenant="acme").secret
    refused = client.post("/v1/sql", json=sql, headers={"Authorization": f"Bearer {bound}"})
    assert refused.status_code == 403 and refused.json()["errors"][0]["kind"] == "permission_denied"
    reader = lakehouse.keys.create("sql-only", ["sql"]).secret  # not admin: no memory, no recorded traffic
    assert client.post("/v1/sql", json=sql, headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    changes = {"sql": "SELECT count(*) FROM ducklake_table_insertions('lake', 'replay', 'exchanges', 0, 1)"}
    by_function = client.post("/v1/sql", json=changes, headers={"Authorization": f"Bearer {bound}"})
    assert by_function.status_code == 403 and by_function.json()["errors"][0]["kind"] == "permission_denied"
    # nothing writes into replay.* through the datasets API
    made = client.post("/v1/datasets", json={"name": "replay.mine", "columns": []}, headers=auth)
    assert made.status_code in (400, 422)


def test_a_recording_exported_replays_on_a_fresh_deployment(
    recorded: tuple[AppClient, Lakehouse], tmp_path: Path
) -> None:
    client, lakehouse = recorded
    admin = lakehouse.keys.create("admin", ["admin"]).secret
    auth = {"Authorization": f"Bearer {admin}"}
    scope = {"tenant": "acme", "user_id": "u1"}
    memory = client.post("/v1/memories", json={"scope": scope, "content": "prefers email"}, headers=auth).json()
    changed = client.patch(
        f"/v1/memories/{memory['id']}",
        json={"scope": scope, "expected_version": 1, "content": "prefers phone"},
        headers=auth,
    )
    assert changed.status_code == 200
    _flush(lakehouse, 2)
    out = tmp_path / "cases.ndjson"
    result = CliRunner().invoke(
        cli,
        [
            "record",
            "export",
            "--data-dir",
            str(lakehouse.settings.data_dir),
            "--route",
            "/v1/memories*",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    cases = list(read_cases(out))
    assert cases[0].capture and "{{" in cases[1].request.path  # the new memory's id became a capture
    fresh = Lakehouse(make_settings(tmp_path / "fresh", embed={"provider": "hashing"}))
    try:
        with ServerThread(create_app(fresh.settings, lakehouse=fresh)) as server:
            answers = list(replay(cases, server.url))
    finally:
        fresh.close()
    assert [a.response.status for a in answers] == [201, 200]  # type: ignore[union-attr]


def test_a_large_body_is_stored_masked_as_a_blob_that_only_an_unbound_admin_reaches(
    recorded: tuple[AppClient, Lakehouse],
) -> None:
    client, lakehouse = recorded
    admin = lakehouse.keys.create("admin", ["admin"]).secret
    auth = {"Authorization": f"Bearer {admin}"}
    scope = {"tenant": "acme", "user_id": "u1"}
    content = "y" * 2000 + " write to ada@example.com"
    assert client.post("/v1/memories", json={"scope": scope, "content": content}, headers=auth).status_code == 201
    _flush(lakehouse, 1)
    (exchange,) = lakehouse.recordings.export()
    ref = exchange.request.body.blob
    assert ref is not None and ref.bucket == RECORDINGS_BUCKET and ref.content_type == "application/json"
    assert exchange.response is not None and exchange.response.body.blob is not None  # the answer echoes it
    stored = client.get(f"/v1/blobs/{ref.bucket}/{ref.key}", headers=auth)
    assert stored.status_code == 200 and len(stored.content) == ref.size
    assert b"ada@example.com" not in stored.content and b"[REDACTED]" in stored.content  # masked as small ones
    # the bucket holds every tenant's traffic: a tenant-bound admin key and a read key are refused, listing too
    bound = lakehouse.keys.create("acme-admin", ["admin"], tenant="acme").secret
    reader = lakehouse.keys.create("reader", ["read", "write"]).secret
    for secret in (bound, reader):
        other = {"Authorization": f"Bearer {secret}"}
        for method, path in (("GET", f"{ref.bucket}/{ref.key}"), ("GET", ref.bucket), ("PUT", f"{ref.bucket}/x")):
            refused = client.request(method, f"/v1/blobs/{path}", headers=other, content=b"x")
            assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "bucket", (method, path)
    # exported, the body is inline again (masked) and the case replays
    (inline,) = lakehouse.recordings.export(inline=True, limit=1)
    assert inline.request.body.is_json and inline.request.body.json_value["content"].endswith("[REDACTED]")  # type: ignore[index, union-attr]
    # a case left holding the reference is not sent, and says why
    (not_sent,) = replay([exchange.model_copy(update={"response": None})], "http://127.0.0.1:9")
    assert not_sent.response is None and not_sent.error is not None and "record export" in not_sent.error


def test_past_max_blob_bytes_only_the_size_and_digest_are_kept(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        embed={"provider": "hashing"},
        record={"enabled": True, "flush_ms": 10, "max_body_bytes": 1000, "max_blob_bytes": 3000},
    )
    with Lakehouse(settings) as lakehouse:
        client = AppClient(create_app(settings, lakehouse=lakehouse), lakehouse=lakehouse)
        body = {"scope": {"tenant": "acme"}, "content": "z" * 5000}
        assert client.post("/v1/memories", json=body).status_code == 201
        client.close()
        _flush(lakehouse, 1)
        (exchange,) = lakehouse.recordings.export()
        text = exchange.request.body.text
        assert exchange.request.body.blob is None and text is not None and "sha256" in text and "5" in text
        assert asyncio.run(lakehouse.blobs.list(RECORDINGS_BUCKET)).items == []
