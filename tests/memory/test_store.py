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
from lakehouse.memory import (
    AddMemory,
    ChangeMemory,
    ForgetMemory,
    MemoryStore,
    RestoreMemory,
    RetireMemory,
    ReviseMemory,
    Scope,
)
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
    first = store.add(
        AddMemory(
            scope=SCOPE, kind="fact", content="Paris is the capital of France", tags=["geo"], metadata={"src": "a"}
        )
    )
    assert first.deduplicated is False and first.version == 1 and first.status == "active"
    again = store.add(AddMemory(scope=SCOPE, kind="fact", content="  paris IS the   capital of france "))
    assert again.id == first.id and again.deduplicated is True
    assert (
        store.add(AddMemory(scope=SCOPE, kind="playbook", content="Paris is the capital of France")).id != first.id
    )  # another kind
    elsewhere = store.add(
        AddMemory(scope={"tenant": "acme", "user_id": "u2"}, kind="fact", content="Paris is the capital of France")
    )
    assert elsewhere.id != first.id
    with pytest.raises(MemoryNotFound):
        store.get(first.id, Scope(tenant="acme", user_id="u2"))
    with pytest.raises(MemoryNotFound):
        store.get(first.id, Scope(tenant="acme"))  # a wider scope is another scope
    assert store.get(first.id, Scope(**SCOPE)).content == "Paris is the capital of France"


def test_many_scopes_never_see_each_other(store: MemoryStore) -> None:
    scopes = [{"tenant": f"t{t}", "agent_id": f"a{a}"} for t in range(4) for a in range(3)]
    made = {
        i: [store.add(AddMemory(scope=scope, kind="fact", content=f"note {n} of scope {i}")).id for n in range(3)]
        for i, scope in enumerate(scopes)
    }
    store.add(AddMemory(scope=scopes[0], kind="fact", content="the same words"))
    store.add(AddMemory(scope=scopes[1], kind="fact", content="the same words"))
    for i, scope in enumerate(scopes):
        listed = {m.id for m in store.list_memories(Scope(**scope))}
        assert set(made[i]) <= listed
        others = {m for j, ids in made.items() if j != i for m in ids}
        assert not listed & others
        for other in others:
            with pytest.raises(MemoryNotFound):
                store.get(other, Scope(**scope))


def test_bad_input_is_refused_whole(store: MemoryStore, engine: sa.Engine) -> None:
    error = refused(
        engine,
        RequestValidationFailed,
        lambda: store.add(AddMemory(scope={"tenant": "", "team": "x"}, kind="fact", content="x")),
    )
    assert {e.field for e in error.errors} == {"scope.tenant", "scope.team"}  # type: ignore[attr-defined]
    error = refused(
        engine,
        RequestValidationFailed,
        lambda: store.add(
            AddMemory(scope=SCOPE, kind="fact", content=" ", metadata=[1], tags="x", valid_from="yesterday")
        ),
    )
    assert {e.field for e in error.errors} == {"content", "metadata", "tags", "valid_from"}  # type: ignore[attr-defined]
    refused(engine, RequestValidationFailed, lambda: store.add(AddMemory(scope=SCOPE, kind="opinion", content="x")))


def test_update_needs_the_current_version(store: MemoryStore, engine: sa.Engine) -> None:
    memory = store.add(AddMemory(scope=SCOPE, kind="fact", content="The office opens at 9"))
    updated = store.update(
        memory.id, ChangeMemory(scope=SCOPE, expected_version=1, content="The office opens at 8", reason="changed")
    )
    assert updated.version == 2 and updated.content == "The office opens at 8"
    error = refused(
        engine,
        VersionConflict,
        lambda: store.update(memory.id, ChangeMemory(scope=SCOPE, expected_version=1, content="at 7")),
    )
    assert error.errors[0].extra == {"current_version": 2}  # type: ignore[attr-defined]
    refused(
        engine, RequestValidationFailed, lambda: store.update(memory.id, ChangeMemory(scope=SCOPE, expected_version=2))
    )
    other = store.add(AddMemory(scope=SCOPE, kind="fact", content="The office closes at 5"))
    refused(
        engine,
        MemoryExists,
        lambda: store.update(other.id, ChangeMemory(scope=SCOPE, expected_version=1, content="the office opens AT 8")),
    )


def test_revise_by_content_and_by_successor_and_what_cannot_be_revised(store: MemoryStore, engine: sa.Engine) -> None:
    a = store.add(AddMemory(scope=SCOPE, kind="fact", content="Alice works at Initech", tags=["people"]))
    b = store.revise(a.id, ReviseMemory(scope=SCOPE, content="Alice works at Globex", reason="moved"))
    assert b.id != a.id and b.status == "active" and b.tags == ["people"]
    head = store.get(a.id, Scope(**SCOPE))
    assert head.status == "superseded" and head.superseded_by == b.id and head.version == 2
    refused(
        engine, MemorySuperseded, lambda: store.revise(a.id, ReviseMemory(scope=SCOPE, content="Alice works at Hooli"))
    )
    refused(
        engine, MemorySuperseded, lambda: store.update(a.id, ChangeMemory(scope=SCOPE, expected_version=2, content="x"))
    )
    c = store.add(AddMemory(scope=SCOPE, kind="fact", content="Alice is at Globex"))
    merged = store.revise(c.id, ReviseMemory(scope=SCOPE, successor_id=b.id, reason="duplicate"))
    assert merged.id == b.id
    history = store.history(b.id, Scope(**SCOPE))
    assert history.lineage.supersedes == [a.id, c.id] and history.lineage.current == b.id
    retired = store.add(AddMemory(scope=SCOPE, kind="fact", content="Bob likes tea"))
    store.retire(retired.id, RetireMemory(scope=SCOPE, reason="wrong"))
    refused(
        engine, MemoryRetired, lambda: store.revise(retired.id, ReviseMemory(scope=SCOPE, content="Bob likes coffee"))
    )
    refused(engine, MemoryRetired, lambda: store.revise(b.id, ReviseMemory(scope=SCOPE, successor_id=retired.id)))
    refused(engine, MemoryNotFound, lambda: store.revise(b.id, ReviseMemory(scope={"tenant": "other"}, content="x")))
    refused(
        engine,
        RequestValidationFailed,
        lambda: store.revise(b.id, ReviseMemory(scope=SCOPE, content="x", successor_id=c.id)),
    )


def test_a_revision_that_closes_a_cycle_is_refused_with_the_cycle(store: MemoryStore, engine: sa.Engine) -> None:
    a, b, c = (store.add(AddMemory(scope=SCOPE, kind="fact", content=f"version {n} of the plan")) for n in "abc")
    store.revise(a.id, ReviseMemory(scope=SCOPE, successor_id=b.id))  # a -> b
    store.revise(b.id, ReviseMemory(scope=SCOPE, successor_id=c.id))  # b -> c
    # c is current; revising c into a would close c -> a -> b -> c
    error = refused(engine, RevisionCycle, lambda: store.revise(c.id, ReviseMemory(scope=SCOPE, successor_id=a.id)))
    assert error.errors[0].extra["cycle"] == [c.id, a.id, b.id, c.id]  # type: ignore[attr-defined]
    assert error.status == 409  # type: ignore[attr-defined]


def test_retire_restore_and_their_refusals(store: MemoryStore, engine: sa.Engine) -> None:
    memory = store.add(AddMemory(scope=SCOPE, kind="fact", content="The door code is 1234"))
    refused(engine, RequestValidationFailed, lambda: store.retire(memory.id, RetireMemory(scope=SCOPE, reason="")))
    refused(engine, MemoryNotRetired, lambda: store.restore(memory.id, RestoreMemory(scope=SCOPE)))
    retired = store.retire(memory.id, RetireMemory(scope=SCOPE, reason="rotated"))
    assert retired.status == "retired" and retired.retired_reason == "rotated" and retired.retired_at is not None
    refused(engine, MemoryRetired, lambda: store.retire(memory.id, RetireMemory(scope=SCOPE, reason="again")))
    restored = store.restore(memory.id, RestoreMemory(scope=SCOPE, reason="rotation undone"))
    assert restored.status == "active" and restored.retired_at is None and restored.version == 3
    store.retire(memory.id, RetireMemory(scope=SCOPE, reason="rotated for real"))
    store.add(
        AddMemory(scope=SCOPE, kind="fact", content="the door code is 1234")
    )  # the same words, added again while it is retired
    refused(engine, MemoryExists, lambda: store.restore(memory.id, RestoreMemory(scope=SCOPE)))


def test_history_is_complete_and_ordered(store: MemoryStore) -> None:
    memory = store.add(AddMemory(scope=SCOPE, kind="fact", content="Meeting on Monday", actor="agent-7"))
    store.update(
        memory.id,
        ChangeMemory(scope=SCOPE, expected_version=1, content="Meeting on Tuesday", actor="agent-7", reason="moved"),
    )
    store.retire(memory.id, RetireMemory(scope=SCOPE, reason="cancelled", actor="ops"))
    store.restore(memory.id, RestoreMemory(scope=SCOPE, actor="ops"))
    successor = store.revise(
        memory.id, ReviseMemory(scope=SCOPE, content="Meeting on Wednesday", actor="ops", reason="moved again")
    )
    history = store.history(memory.id, Scope(**SCOPE))
    events = history.events
    assert [e.op for e in events] == ["add", "update", "retire", "restore", "revise"]
    assert [e.version for e in events] == [1, 2, 3, 4, 5]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert events[1].before["content"] == "Meeting on Monday" and events[1].after["content"] == "Meeting on Tuesday"
    assert events[1].actor == "agent-7" and events[1].reason == "moved"
    assert events[4].after["superseded_by"] == successor.id
    assert history.lineage.model_dump() == {
        "supersedes": [],
        "ancestors": [],
        "superseded_by": successor.id,
        "successors": [successor.id],
        "current": successor.id,
    }
    assert [e.op for e in store.history(successor.id, Scope(**SCOPE)).events] == ["add", "supersede"]


def test_forget_leaves_only_a_tombstone(store: MemoryStore, engine: sa.Engine) -> None:
    secret = "The customer's card ends in 4242"
    memory = store.add(AddMemory(scope=SCOPE, kind="fact", content=secret, metadata={"card": "4242"}))
    store.update(
        memory.id, ChangeMemory(scope=SCOPE, expected_version=1, content=secret + " (visa)", reason="detail 4242")
    )
    refused(engine, RequestValidationFailed, lambda: store.forget(memory.id, ForgetMemory(scope=SCOPE, reason=None)))
    gone = store.forget(memory.id, ForgetMemory(scope=SCOPE, reason="customer asked", actor="dpo"))
    assert gone.forgotten is True
    with pytest.raises(MemoryNotFound):
        store.get(memory.id, Scope(**SCOPE))
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
    results = _race(
        32,
        lambda i: store.add(
            AddMemory(scope=SCOPE, kind="fact", content="Racing makes one" if i % 2 else "racing  MAKES one")
        ),
    )
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.id for r in results}) == 1
    assert sum(not r.deduplicated for r in results) == 1
    assert len(store.list_memories(Scope(**SCOPE))) == 1


def test_racing_updates_with_the_same_version_one_wins(store: MemoryStore) -> None:
    memory = store.add(AddMemory(scope=SCOPE, kind="fact", content="Counter at 0"))
    results = _race(
        8,
        lambda i: store.update(memory.id, ChangeMemory(scope=SCOPE, expected_version=1, content=f"Counter at {i + 1}")),
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, VersionConflict) for r in results if r not in winners)
    head = store.get(memory.id, Scope(**SCOPE))
    assert head.version == 2 and head.content == winners[0].content


def test_racing_revisions_that_would_close_a_cycle_at_most_one_wins(store: MemoryStore) -> None:
    for round_ in range(3):
        a = store.add(AddMemory(scope=SCOPE, kind="fact", content=f"left {round_}"))
        b = store.add(AddMemory(scope=SCOPE, kind="fact", content=f"right {round_}"))
        pairs = [(a.id, b.id), (b.id, a.id)]
        results = _race(
            2, lambda i, pairs=pairs: store.revise(pairs[i][0], ReviseMemory(scope=SCOPE, successor_id=pairs[i][1]))
        )
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, MemorySuperseded | RevisionCycle) for r in results if isinstance(r, Exception))
        heads = [store.get(a.id, Scope(**SCOPE)), store.get(b.id, Scope(**SCOPE))]
        assert sorted(h.status for h in heads) == ["active", "superseded"]


def _add_in_a_process(url: str, content: str) -> tuple[str, bool]:
    engine = create_engine(url)
    try:
        memory = MemoryStore(engine).add(AddMemory(scope=SCOPE, kind="fact", content=content))
        return memory.id, bool(memory.deduplicated)
    finally:
        engine.dispose()


def _update_in_a_process(url: str, memory_id: str, content: str) -> str:
    engine = create_engine(url)
    try:
        MemoryStore(engine).update(memory_id, ChangeMemory(scope=SCOPE, expected_version=1, content=content))
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
    assert MemoryStore(engine).get(mid, Scope(**SCOPE)).version == 2
