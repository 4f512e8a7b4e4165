"""The HTTP client against a real server: blobs, keys, and server errors raised as the same classes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse import Client, Lakehouse
from lakehouse.app import create_app
from lakehouse.config import Settings
from lakehouse.errors import (
    ApiKeyExists,
    BlobNotFound,
    Forbidden,
    InvalidKey,
    LakehouseError,
    PreconditionFailed,
    RequestValidationFailed,
    Unauthenticated,
)
from lakehouse.verify import ServerThread


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    settings = Settings.model_validate({"data_dir": tmp_path_factory.mktemp("client"), "auth": {"enabled": True}})
    with Lakehouse(settings) as lakehouse:
        admin = lakehouse.keys.create("admin", "admin").secret
        with ServerThread(create_app(settings, lakehouse=lakehouse)) as thread:
            yield thread.url, admin


def test_blobs(server: tuple[str, str]) -> None:
    url, admin = server
    with Client(url, api_key=admin) as c:
        data = bytes(range(256)) * 5000
        result = c.blobs.put("files", "a/b.bin", data)
        assert result.sha256 == hashlib.sha256(data).hexdigest()
        assert c.blobs.get("files", "a/b.bin") == data
        assert c.blobs.get("files", "a/b.bin", range=(10, 19)) == data[10:20]
        assert b"".join(c.blobs.stream("files", "a/b.bin", chunk_size=4096)) == data
        assert c.blobs.head("files", "a/b.bin").size == len(data)
        c.blobs.put("files", "a/c.bin", io.BytesIO(b"from a file"))
        c.blobs.put("files", "a/d.bin", iter([b"chunk1", b"chunk2"]))
        assert c.blobs.get("files", "a/d.bin") == b"chunk1chunk2"
        with pytest.raises(PreconditionFailed):
            c.blobs.put("files", "a/d.bin", b"x", overwrite=False)
        assert [b.key for b in c.blobs.list("files", prefix="a/", limit=2)] == ["a/b.bin", "a/c.bin", "a/d.bin"]
        c.blobs.delete("files", "a/b.bin")
        with pytest.raises(BlobNotFound) as info:
            c.blobs.get("files", "a/b.bin")
        assert info.value.status == 404 and info.value.errors[0].field == "key"
        assert info.value.request_id
        with pytest.raises(BlobNotFound):
            list(c.blobs.stream("files", "a/b.bin"))
        with pytest.raises(InvalidKey):
            c.blobs.put("files", "a/../x", b"x")
        c.blobs.put("files", "100%/ok", b"percent signs are fine")
        assert c.blobs.get("files", "100%/ok") == b"percent signs are fine"


def test_keys_and_auth_errors(server: tuple[str, str]) -> None:
    url, admin = server
    with Client(url, api_key=admin) as c:
        reader = c.keys.create("client-reader", ["read"])
        assert reader.key.scopes == ("read",)
        with pytest.raises(ApiKeyExists):
            c.keys.create("client-reader", ["read"])
        with pytest.raises(RequestValidationFailed):
            c.keys.create("", [])
        assert "client-reader" in {k.name for k in c.keys.list()}
    with Client(url, api_key=reader.secret) as c:
        assert isinstance(list(c.blobs.list("files")), list)
        with pytest.raises(Forbidden):
            c.blobs.put("files", "x", b"x")
    with Client(url) as c:
        assert c.health().status == "ok"
        assert c.ready().status == "ready"
        with pytest.raises(Unauthenticated):
            list(c.blobs.list("files"))
    with Client(url, api_key=admin) as c:
        assert c.keys.revoke("client-reader").revoked_at
        assert "lakehouse_http_requests_total" in c.metrics()
    with Client(url, api_key=reader.secret) as c, pytest.raises(Unauthenticated):
        list(c.blobs.list("files"))


def test_embedded_open(tmp_path: Path) -> None:
    with Lakehouse.open(tmp_path / "lh") as lh:
        assert lh.settings.data_dir == tmp_path / "lh"
        assert (tmp_path / "lh" / "opsdb.sqlite3").exists()
        assert lh.keys.list() == []


def test_memories(server: tuple[str, str]) -> None:
    """Every memory operation through the client; refusals raise the in-process classes; the actor of a change is
    the API key's name when auth is on."""
    from lakehouse.errors import MemoryNotFound, RevisionCycle, VersionConflict
    from lakehouse.memory import (
        AddedMemory,
        AddMemory,
        AppendSteps,
        ChangeMemory,
        EndPathway,
        ForgetMemory,
        MemorySearch,
        RestoreMemory,
        RetireMemory,
        RetireStep,
        ReviseMemory,
        Scope,
        StartPathway,
    )

    url, admin = server
    scope = Scope(tenant="client-test", run_id="r1")
    with Client(url, api_key=admin) as c:
        added = c.memories.add(
            AddMemory(scope=scope, content="The build takes 4 minutes", tags=["ci"], actor="planner")
        )
        assert isinstance(added, AddedMemory) and added.deduplicated is False
        assert c.memories.add(AddMemory(scope=scope, content="the build takes 4 MINUTES")).id == added.id
        mid = added.id
        change = ChangeMemory(scope=scope, expected_version=1, content="The build takes 3 minutes", reason="cache")
        assert c.memories.update(mid, change).version == 2
        with pytest.raises(VersionConflict):
            c.memories.update(mid, ChangeMemory(scope=scope, expected_version=1, content="The build takes 2 minutes"))
        other = c.memories.add(AddMemory(scope=scope, content="CI runs on push"))
        c.memories.revise(other.id, ReviseMemory(scope=scope, successor_id=mid))
        with pytest.raises(RevisionCycle) as raised:
            c.memories.revise(mid, ReviseMemory(scope=scope, successor_id=other.id))
        assert raised.value.errors[0].extra["cycle"] == [mid, other.id, mid]
        assert c.memories.retire(mid, RetireMemory(scope=scope, reason="obsolete")).status == "retired"
        assert c.memories.restore(mid, RestoreMemory(scope=scope)).status == "active"
        assert [m.id for m in c.memories.list(scope, statuses=["active"])] == [mid]
        history = c.memories.history(mid, scope)
        assert [e.op for e in history.events] == ["add", "update", "supersede", "retire", "restore"]
        assert history.events[0].actor == "admin (planner)" and history.events[1].actor == "admin"
        assert history.lineage.supersedes == [other.id]
        found = c.memories.search(MemorySearch(scope=scope, query="how long is the build?", k=3))
        assert found.results[0].id == mid
        run = c.pathways.start(
            StartPathway(scope=scope, summary="Speed up the build", steps=[{"action": "cache deps"}])
        )
        c.pathways.append(run.id, AppendSteps(scope=scope, steps=[{"action": "parallel tests"}]))
        c.pathways.retire_step(run.id, "s1", RetireStep(scope=scope, reason="did not help"))
        assert c.pathways.end(run.id, EndPathway(scope=scope, outcome="success")).suppressed_steps == 1
        assert [s.action for s in c.pathways.get(run.id, scope).steps] == ["parallel tests"]
        assert [p.id for p in c.pathways.list(scope, outcome="success").items] == [run.id]
        assert c.memories.forget(mid, ForgetMemory(scope=scope, reason="done")).forgotten is True
        with pytest.raises(MemoryNotFound):
            c.memories.get(mid, scope)


def test_schemas_and_validation(server: tuple[str, str]) -> None:
    """The client's verdicts equal the in-process ones; registry errors are raised as the same classes."""
    from lakehouse.errors import BreakingChange, InvalidSchema, SchemaRetired

    url, admin = server
    schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 1}}}
    with Client(url, api_key=admin) as c:
        first = c.schemas.register("client_order", schema, description="orders", idempotency_key="reg-1")
        assert first.version == 1 and first.created is True
        again = c.schemas.register("client_order", schema, description="orders", idempotency_key="reg-1")
        assert again == first  # replayed
        with pytest.raises(BreakingChange) as refused:
            c.schemas.register("client_order", {**schema, "required": ["id", "name"]})
        assert refused.value.errors[0].extra["ctx"] == {"change": "required_added", "property": "name"}
        with pytest.raises(InvalidSchema):
            c.schemas.register("client_bad", {"type": 1})
        assert c.validate("client_order", {"id": 2}).valid
        verdict = c.validate("client_order@1", {"id": 0})
        assert not verdict.valid and verdict.errors[0].to_dict() == {
            "kind": "minimum",
            "field": "id",
            "pointer": "/id",
            "reason": "id must be >= 1",
            "ctx": {"limit": 1},
        }
        batch = c.validate_many("client_order", [{"id": 1}, {}, {"id": "x"}])
        assert [r.valid for r in batch.results] == [True, False, False]
        assert [e.kind for e in batch.results[2].errors] == ["type"] and batch.invalid_count == 2
        assert any(s.name == "client_order" for s in c.schemas.list())
        assert [v.version for v in c.schemas.versions("client_order")] == [1]
        assert c.schemas.retire("client_order", 1).retired_at is not None
        with pytest.raises(SchemaRetired):
            c.validate("client_order@1", {"id": 2})


def test_observe(server: tuple[str, str]) -> None:
    url, admin = server
    trace = "5bf92f3577b34da6a3ce929d0e0e4737"
    span = {
        "trace_id": trace,
        "span_id": "00f067aa0ba902b7",
        "name": "chat",
        "start_time": "2026-01-31T12:00:00Z",
        "end_time": "2026-01-31T12:00:01Z",
        "model": "gpt-4o",
        "input_tokens": 10,
        "session_id": "client-session",
    }
    with Client(url, api_key=admin) as c:
        assert c.observe.record_spans([span]).accepted == 1
        assert c.observe.record_scores([{"trace_id": trace, "name": "ok", "value": True}]).recorded == 1
        got = c.observe.trace(trace)
        assert got.totals.input_tokens == 10 and got.scores[0].value is True and got.spans[0].model == "gpt-4o"
        assert [t.trace_id for t in c.observe.all_traces()] == [trace]
        assert c.observe.session("client-session").traces[0].trace_id == trace
        with pytest.raises(LakehouseError) as missing:
            c.observe.trace("0" * 31 + "2")
        assert missing.value.kind == "trace_not_found"
        with pytest.raises(RequestValidationFailed):  # checked before it is sent
            c.observe.record_spans([{**span, "end_time": "2026-01-31T11:00:00Z"}])
