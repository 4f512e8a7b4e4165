"""The memory store on SQLite and PostgreSQL: each operation, its refusals (which change nothing), scopes that never
see each other, complete history and lineage, the forget purge, and races between writers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from lakehouse.errors import (
    MemoryExists,
    MemoryNotFound,
    MemoryNotRetired,
    MemoryRetired,
    MemorySuperseded,
    RequestValidationFailed,
    RevisionCycle,
    VersionConflict,
)
from lakehouse.memory import MemoryStore
from lakehouse.opsdb import create_engine, upgrade

SCOPE = {"tenant": "acme", "user_id": "u1"}


@pytest.fixture
def engine(opsdb_url: str) -> Iterator[sa.Engine]:
    made = create_engine(opsdb_url)
    upgrade(made)
    yield made
    made.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> MemoryStore:
    return MemoryStore(engine)


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the memory tables, to show a refused operation changed nothing."""
    with engine.connect() as conn:
        return {
            table: [tuple(row) for row in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1, 2"))]
            for table in ("memories", "memory_revisions", "memory_events")
        }


def refused(engine: sa.Engine, error: type[Exception], call: Callable[[], Any]) -> Exception:
    before = dump(engine)
    with pytest.raises(error) as raised:
        call()
    assert dump(engine) == before
    return raised.value


def test_add_deduplicates_normalized_content_within_a_scope_only(store: MemoryStore) -> None:
    first = store.add(SCOPE, "fact", "Paris is the capital of France", tags=["geo"], metadata={"src": "a"})
    assert first.extra["deduplicated"] is False and first.version == 1 and first.status == "active"
    again = store.add(SCOPE, "fact", "  paris IS the   capital of france ")
    assert again.id == first.id and again.extra["deduplicated"] is True
    assert store.add(SCOPE, "playbook", "Paris is the capital of France").id != first.id  # another kind
    elsewhere = store.add({"tenant": "acme", "user_id": "u2"}, "fact", "Paris is the capital of France")
    assert elsewhere.id != first.id
    with pytest.raises(MemoryNotFound):
        store.get(first.id, {"tenant": "acme", "user_id": "u2"})
    with pytest.raises(MemoryNotFound):
        store.get(first.id, {"tenant": "acme"})  # a wider scope is another scope
    assert store.get(first.id, SCOPE).content == "Paris is the capital of France"


def test_many_scopes_never_see_each_other(store: MemoryStore) -> None:
    scopes = [{"tenant": f"t{t}", "agent_id": f"a{a}"} for t in range(4) for a in range(3)]
    made = {
        i: [store.add(scope, "fact", f"note {n} of scope {i}").id for n in range(3)] for i, scope in enumerate(scopes)
    }
    store.add(scopes[0], "fact", "the same words")
    store.add(scopes[1], "fact", "the same words")
    for i, scope in enumerate(scopes):
        listed = {m.id for m in store.list_memories(scope)}
        assert set(made[i]) <= listed
        others = {m for j, ids in made.items() if j != i for m in ids}
        assert not listed & others
        for other in others:
            with pytest.raises(MemoryNotFound):
                store.get(other, scope)


def test_bad_input_is_refused_whole(store: MemoryStore, engine: sa.Engine) -> None:
    error = refused(
        engine,
        RequestValidationFailed,
        lambda: store.add({"tenant": "", "team": "x"}, "fact", "x"),
    )
    assert {e.field for e in error.errors} == {"scope.tenant", "scope.team"}  # type: ignore[attr-defined]
    error = refused(
        engine,
        RequestValidationFailed,
        lambda: store.add(SCOPE, "fact", " ", metadata=[1], tags="x", valid_from="yesterday"),
    )
    assert {e.field for e in error.errors} == {"content", "metadata", "tags", "valid_from"}  # type: ignore[attr-defined]
    refused(engine, RequestValidationFailed, lambda: store.add(SCOPE, "opinion", "x"))


def test_update_needs_the_current_version(store: MemoryStore, engine: sa.Engine) -> None:
    memory = store.add(SCOPE, "fact", "The office opens at 9")
    updated = store.update(memory.id, SCOPE, expected_version=1, content="The office opens at 8", reason="changed")
    assert updated.version == 2 and updated.content == "The office opens at 8"
    error = refused(engine, VersionConflict, lambda: store.update(memory.id, SCOPE, expected_version=1, content="at 7"))
    assert error.errors[0].extra == {"current_version": 2}  # type: ignore[attr-defined]
    refused(engine, RequestValidationFailed, lambda: store.update(memory.id, SCOPE, expected_version=2))
    other = store.add(SCOPE, "fact", "The office closes at 5")
    refused(
        engine, MemoryExists, lambda: store.update(other.id, SCOPE, expected_version=1, content="the office opens AT 8")
    )


def test_revise_by_content_and_by_successor_and_what_cannot_be_revised(store: MemoryStore, engine: sa.Engine) -> None:
    a = store.add(SCOPE, "fact", "Alice works at Initech", tags=["people"])
    b = store.revise(a.id, SCOPE, content="Alice works at Globex", reason="moved")
    assert b.id != a.id and b.status == "active" and b.tags == ["people"]
    head = store.get(a.id, SCOPE)
    assert head.status == "superseded" and head.superseded_by == b.id and head.version == 2
    refused(engine, MemorySuperseded, lambda: store.revise(a.id, SCOPE, content="Alice works at Hooli"))
    refused(engine, MemorySuperseded, lambda: store.update(a.id, SCOPE, expected_version=2, content="x"))
    c = store.add(SCOPE, "fact", "Alice is at Globex")
    merged = store.revise(c.id, SCOPE, successor_id=b.id, reason="duplicate")
    assert merged.id == b.id
    history = store.history(b.id, SCOPE)
    assert history["lineage"]["supersedes"] == [a.id, c.id] and history["lineage"]["current"] == b.id
    retired = store.add(SCOPE, "fact", "Bob likes tea")
    store.retire(retired.id, SCOPE, reason="wrong")
    refused(engine, MemoryRetired, lambda: store.revise(retired.id, SCOPE, content="Bob likes coffee"))
    refused(engine, MemoryRetired, lambda: store.revise(b.id, SCOPE, successor_id=retired.id))
    refused(engine, MemoryNotFound, lambda: store.revise(b.id, {"tenant": "other"}, content="x"))
    refused(engine, RequestValidationFailed, lambda: store.revise(b.id, SCOPE, content="x", successor_id=c.id))


def test_a_revision_that_closes_a_cycle_is_refused_with_the_cycle(store: MemoryStore, engine: sa.Engine) -> None:
    a, b, c = (store.add(SCOPE, "fact", f"version {n} of the plan") for n in "abc")
    store.revise(a.id, SCOPE, successor_id=b.id)  # a -> b
    store.revise(b.id, SCOPE, successor_id=c.id)  # b -> c
    # c is current; revising c into a would close c -> a -> b -> c
    error = refused(engine, RevisionCycle, lambda: store.revise(c.id, SCOPE, successor_id=a.id))
    assert error.errors[0].extra["cycle"] == [c.id, a.id, b.id, c.id]  # type: ignore[attr-defined]
    assert error.status == 409  # type: ignore[attr-defined]


def test_retire_restore_and_their_refusals(store: MemoryStore, engine: sa.Engine) -> None:
    memory = store.add(SCOPE, "fact", "The door code is 1234")
    refused(engine, RequestValidationFailed, lambda: store.retire(memory.id, SCOPE, reason=""))
    refused(engine, MemoryNotRetired, lambda: store.restore(memory.id, SCOPE))
    retired = store.retire(memory.id, SCOPE, reason="rotated")
    assert retired.status == "retired" and retired.retired_reason == "rotated" and retired.retired_at is not None
    refused(engine, MemoryRetired, lambda: store.retire(memory.id, SCOPE, reason="again"))
    restored = store.restore(memory.id, SCOPE, reason="rotation undone")
    assert restored.status == "active" and restored.retired_at is None and restored.version == 3
    store.retire(memory.id, SCOPE, reason="rotated for real")
    store.add(SCOPE, "fact", "the door code is 1234")  # the same words, added again while it is retired
    refused(engine, MemoryExists, lambda: store.restore(memory.id, SCOPE))


def test_history_is_complete_and_ordered(store: MemoryStore) -> None:
    memory = store.add(SCOPE, "fact", "Meeting on Monday", actor="agent-7")
    store.update(memory.id, SCOPE, expected_version=1, content="Meeting on Tuesday", actor="agent-7", reason="moved")
    store.retire(memory.id, SCOPE, reason="cancelled", actor="ops")
    store.restore(memory.id, SCOPE, actor="ops")
    successor = store.revise(memory.id, SCOPE, content="Meeting on Wednesday", actor="ops", reason="moved again")
    history = store.history(memory.id, SCOPE)
    events = history["events"]
    assert [e["op"] for e in events] == ["add", "update", "retire", "restore", "revise"]
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert (
        events[1]["before"]["content"] == "Meeting on Monday" and events[1]["after"]["content"] == "Meeting on Tuesday"
    )
    assert events[1]["actor"] == "agent-7" and events[1]["reason"] == "moved"
    assert events[4]["after"]["superseded_by"] == successor.id
    assert history["lineage"] == {
        "supersedes": [],
        "ancestors": [],
        "superseded_by": successor.id,
        "successors": [successor.id],
        "current": successor.id,
    }
    assert [e["op"] for e in store.history(successor.id, SCOPE)["events"]] == ["add", "supersede"]


def test_forget_leaves_only_a_tombstone(store: MemoryStore, engine: sa.Engine) -> None:
    secret = "The customer's card ends in 4242"
    memory = store.add(SCOPE, "fact", secret, metadata={"card": "4242"})
    store.update(memory.id, SCOPE, expected_version=1, content=secret + " (visa)", reason="detail 4242")
    refused(engine, RequestValidationFailed, lambda: store.forget(memory.id, SCOPE, reason=None))
    gone = store.forget(memory.id, SCOPE, reason="customer asked", actor="dpo")
    assert gone["forgotten"] is True
    with pytest.raises(MemoryNotFound):
        store.get(memory.id, SCOPE)
    everything = repr(dump(engine))
    assert "4242" not in everything and "card" not in everything
    with engine.connect() as conn:
        ops = conn.execute(
            sa.text("SELECT op, actor, reason FROM memory_events WHERE memory_id = :id ORDER BY id"), {"id": memory.id}
        ).all()
    assert [tuple(r) for r in ops] == [
        ("add", "anonymous", None),
        ("update", "anonymous", None),
        ("forget", "dpo", "customer asked"),
    ]


def _race(n: int, work: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # the outcome is what is checked
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_racing_identical_adds_make_one_memory(store: MemoryStore) -> None:
    results = _race(32, lambda i: store.add(SCOPE, "fact", "Racing makes one" if i % 2 else "racing  MAKES one"))
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.id for r in results}) == 1
    assert sum(not r.extra["deduplicated"] for r in results) == 1
    assert len(store.list_memories(SCOPE)) == 1


def test_racing_updates_with_the_same_version_one_wins(store: MemoryStore) -> None:
    memory = store.add(SCOPE, "fact", "Counter at 0")
    results = _race(8, lambda i: store.update(memory.id, SCOPE, expected_version=1, content=f"Counter at {i + 1}"))
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, VersionConflict) for r in results if r not in winners)
    head = store.get(memory.id, SCOPE)
    assert head.version == 2 and head.content == winners[0].content


def test_racing_revisions_that_would_close_a_cycle_at_most_one_wins(store: MemoryStore) -> None:
    for round_ in range(3):
        a = store.add(SCOPE, "fact", f"left {round_}")
        b = store.add(SCOPE, "fact", f"right {round_}")
        pairs = [(a.id, b.id), (b.id, a.id)]
        results = _race(2, lambda i, pairs=pairs: store.revise(pairs[i][0], SCOPE, successor_id=pairs[i][1]))
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, MemorySuperseded | RevisionCycle) for r in results if isinstance(r, Exception))
        heads = [store.get(a.id, SCOPE), store.get(b.id, SCOPE)]
        assert sorted(h.status for h in heads) == ["active", "superseded"]


def _add_in_a_process(url: str, content: str) -> tuple[str, bool]:
    engine = create_engine(url)
    try:
        memory = MemoryStore(engine).add(SCOPE, "fact", content)
        return memory.id, bool(memory.extra["deduplicated"])
    finally:
        engine.dispose()


def _update_in_a_process(url: str, memory_id: str, content: str) -> str:
    engine = create_engine(url)
    try:
        MemoryStore(engine).update(memory_id, SCOPE, expected_version=1, content=content)
        return "won"
    except VersionConflict:
        return "conflict"
    finally:
        engine.dispose()


def test_racing_processes_add_one_memory_and_one_update_wins(opsdb_url: str, engine: sa.Engine) -> None:
    """The same races between processes (each its own engine and connections), not threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(6, mp_context=multiprocessing.get_context("spawn")) as pool:
        added = list(pool.map(_add_in_a_process, [opsdb_url] * 6, ["Processes race"] * 6))
        assert len({mid for mid, _ in added}) == 1 and sum(not dedup for _, dedup in added) == 1
        mid = added[0][0]
        outcomes = list(pool.map(_update_in_a_process, [opsdb_url] * 6, [mid] * 6, [f"v{i}" for i in range(6)]))
    assert sorted(outcomes) == ["conflict"] * 5 + ["won"]
    assert MemoryStore(engine).get(mid, SCOPE).version == 2
