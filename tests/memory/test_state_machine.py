"""Random sequences of ADD / UPDATE / REVISE / RETIRE / RESTORE / FORGET against the store and a plain model of it,
checked after every step: the same memories in the same states, no supersession cycle, at most one memory not
superseded per lineage, one active memory per kind and content, each history complete and in order, search
returning exactly the active memories (the rest counted as suppressed), and search ``as_of`` an earlier step
returning exactly what was active then (less what has been forgotten since)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test

from lakehouse.errors import (
    LakehouseError,
    MemoryExists,
    MemoryNotFound,
    MemoryNotRetired,
    MemoryRetired,
    MemorySuperseded,
    RevisionCycle,
    VersionConflict,
)
from lakehouse.memory import (
    AddMemory,
    ChangeMemory,
    ForgetMemory,
    MemorySearch,
    MemoryStore,
    RestoreMemory,
    RetireMemory,
    ReviseMemory,
    Scope,
)
from lakehouse.memory.model import normalized
from lakehouse.opsdb import create_engine, upgrade
from tests.soak import loops

WORDS = st.sampled_from(["alpha", "Alpha", "beta", "gamma  delta", "GAMMA delta", "epsilon", "zeta eta"])
EVERY_WORD = "alpha beta gamma delta epsilon zeta eta"  # a query every memory matches by words
KINDS = st.sampled_from(["fact", "playbook"])


class Model:
    def __init__(self) -> None:
        self.memories: dict[str, dict[str, Any]] = {}  # id -> status, version, kind, norm, superseded_by, ops

    def active_with(self, kind: str, norm: str, besides: str | None = None) -> str | None:
        for mid, m in self.memories.items():
            if mid != besides and m["status"] == "active" and m["kind"] == kind and m["norm"] == norm:
                return mid
        return None

    def chain_reaches(self, start: str | None, target: str) -> bool:
        seen = set()
        while start is not None and start not in seen:
            if start == target:
                return True
            seen.add(start)
            start = self.memories[start]["superseded_by"] if start in self.memories else None
        return False


class MemoryMachine(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.scope = {"tenant": f"sm-{uuid.uuid4().hex}"}  # a fresh scope for every example
        shared = WHERE.get("engine")
        if shared is None:  # SQLite: a fresh database for every example
            directory = Path(WHERE["tmp"]) / self.scope["tenant"]
            directory.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(f"sqlite:///{directory / 'opsdb.sqlite3'}")
            upgrade(self.engine)
        else:  # PostgreSQL: one fresh database for the test, a fresh scope per example (scopes never see each other)
            self.engine = shared
        self.owned = shared is None
        self.store = MemoryStore(self.engine)
        self.model = Model()
        self.checkpoints: list[tuple[datetime, dict[str, str]]] = []  # after each step: its time, active id -> norm

    def teardown(self) -> None:
        self.store.close()
        if self.owned:
            self.engine.dispose()

    def _new(self, mid: str, kind: str, content: str, op: str) -> None:
        self.model.memories[mid] = {
            "status": "active",
            "version": 1,
            "kind": kind,
            "norm": normalized(content),
            "superseded_by": None,
            "ops": [op],
        }

    @rule(target=ids, kind=KINDS, content=WORDS)
    def add(self, kind: str, content: str) -> str:
        existing = self.model.active_with(kind, normalized(content))
        memory = self.store.add(AddMemory(scope=self.scope, kind=kind, content=content))
        if existing is not None:
            assert memory.id == existing and memory.deduplicated is True
        else:
            assert memory.deduplicated is False
            self._new(memory.id, kind, content, "add")
        return memory.id

    def _expect(self, mid: str, call: Any, allowed: tuple[type[LakehouseError], ...]) -> Any:
        try:
            return call()
        except allowed as exc:
            return exc

    @rule(mid=ids, content=WORDS, stale=st.booleans())
    def update(self, mid: str, content: str, stale: bool) -> None:
        m = self.model.memories.get(mid)
        version = (m["version"] if m else 1) + (1 if stale else 0)
        result = self._expect(
            mid,
            lambda: self.store.update(mid, ChangeMemory(scope=self.scope, expected_version=version, content=content)),
            (MemoryNotFound, MemorySuperseded, MemoryRetired, VersionConflict, MemoryExists),
        )
        if m is None:
            assert isinstance(result, MemoryNotFound)
        elif m["status"] == "superseded":
            assert isinstance(result, MemorySuperseded)
        elif m["status"] == "retired":
            assert isinstance(result, MemoryRetired)
        elif stale:
            assert isinstance(result, VersionConflict)
        elif self.model.active_with(m["kind"], normalized(content), besides=mid):
            assert isinstance(result, MemoryExists)
        else:
            assert not isinstance(result, Exception), result
            m.update(version=m["version"] + 1, norm=normalized(content))
            m["ops"].append("update")

    @rule(target=ids, mid=ids, content=WORDS)
    def revise_to_content(self, mid: str, content: str) -> str:
        m = self.model.memories.get(mid)
        result = self._expect(
            mid,
            lambda: self.store.revise(mid, ReviseMemory(scope=self.scope, content=content)),
            (MemoryNotFound, MemorySuperseded, MemoryRetired, LakehouseError),
        )
        if m is None:
            assert isinstance(result, MemoryNotFound)
            return mid
        if m["status"] != "active":
            assert isinstance(result, MemorySuperseded if m["status"] == "superseded" else MemoryRetired)
            return mid
        if normalized(content) == m["norm"]:
            assert isinstance(result, LakehouseError) and result.status == 422
            return mid
        assert not isinstance(result, Exception), result
        existing = self.model.active_with(m["kind"], normalized(content), besides=mid)
        if existing is not None:
            assert result.id == existing
            self.model.memories[existing]["ops"].append("supersede")
        else:
            self._new(result.id, m["kind"], content, "add")
            self.model.memories[result.id]["ops"].append("supersede")
        m.update(status="superseded", superseded_by=result.id, version=m["version"] + 1)
        m["ops"].append("revise")
        return str(result.id)

    @rule(mid=ids, successor=ids)
    def revise_to_successor(self, mid: str, successor: str) -> None:
        m, s = self.model.memories.get(mid), self.model.memories.get(successor)
        result = self._expect(
            mid,
            lambda: self.store.revise(mid, ReviseMemory(scope=self.scope, successor_id=successor)),
            (MemoryNotFound, MemorySuperseded, MemoryRetired, RevisionCycle, LakehouseError),
        )
        if m is None:
            assert isinstance(result, MemoryNotFound)
        elif m["status"] != "active":
            assert isinstance(result, MemorySuperseded if m["status"] == "superseded" else MemoryRetired)
        elif mid == successor:
            assert isinstance(result, LakehouseError) and result.status == 422
        elif s is None:
            assert isinstance(result, MemoryNotFound)
        elif s["status"] == "retired":
            assert isinstance(result, MemoryRetired)
        elif self.model.chain_reaches(s["superseded_by"], mid):
            assert isinstance(result, RevisionCycle)
            cycle = result.errors[0].extra["cycle"]
            assert cycle[0] == cycle[-1] == mid and cycle[1] == successor
        else:
            assert not isinstance(result, Exception), result
            m.update(status="superseded", superseded_by=successor, version=m["version"] + 1)
            m["ops"].append("revise")
            s["ops"].append("supersede")

    @rule(mid=ids)
    def retire(self, mid: str) -> None:
        m = self.model.memories.get(mid)
        result = self._expect(
            mid,
            lambda: self.store.retire(mid, RetireMemory(scope=self.scope, reason="test")),
            (MemoryNotFound, MemorySuperseded, MemoryRetired),
        )
        if m is None:
            assert isinstance(result, MemoryNotFound)
        elif m["status"] != "active":
            assert isinstance(result, MemorySuperseded if m["status"] == "superseded" else MemoryRetired)
        else:
            assert not isinstance(result, Exception), result
            m.update(status="retired", version=m["version"] + 1)
            m["ops"].append("retire")

    @rule(mid=ids)
    def restore(self, mid: str) -> None:
        m = self.model.memories.get(mid)
        result = self._expect(
            mid,
            lambda: self.store.restore(mid, RestoreMemory(scope=self.scope)),
            (MemoryNotFound, MemoryNotRetired, MemoryExists),
        )
        if m is None:
            assert isinstance(result, MemoryNotFound)
        elif m["status"] != "retired":
            assert isinstance(result, MemoryNotRetired)
        elif self.model.active_with(m["kind"], m["norm"], besides=mid):
            assert isinstance(result, MemoryExists)
        else:
            assert not isinstance(result, Exception), result
            m.update(status="active", version=m["version"] + 1)
            m["ops"].append("restore")

    @rule(mid=consumes(ids))
    def forget(self, mid: str) -> None:
        m = self.model.memories.pop(mid, None)
        result = self._expect(
            mid, lambda: self.store.forget(mid, ForgetMemory(scope=self.scope, reason="test")), (MemoryNotFound,)
        )
        assert isinstance(result, MemoryNotFound) if m is None else result.forgotten is True

    @invariant()
    def same_as_the_model(self) -> None:
        stored = {m.id: m for m in self.store.list_memories(Scope(**self.scope), limit=10_000)}
        assert set(stored) == set(self.model.memories)
        for mid, m in self.model.memories.items():
            got = stored[mid]
            assert (got.status, got.version, got.superseded_by, normalized(got.content)) == (
                m["status"],
                m["version"],
                m["superseded_by"],
                m["norm"],
            )

    @invariant()
    def search_returns_the_active_memories_now_and_then(self) -> None:
        answer = self.store.search(MemorySearch(scope=self.scope, query=EVERY_WORD, k=1000))
        active = {mid: m["norm"] for mid, m in self.model.memories.items() if m["status"] == "active"}
        assert {r.id: normalized(r.content) for r in answer.results} == active
        assert answer.suppressed == len(self.model.memories) - len(active)
        for moment, then in self.checkpoints[:1] + self.checkpoints[-2:]:
            known = {mid: norm for mid, norm in then.items() if mid in self.model.memories}  # less the forgotten
            past = self.store.search(MemorySearch(scope=self.scope, query=EVERY_WORD, k=1000, as_of=moment))
            assert {r.id: normalized(r.content) for r in past.results} == known
        self.checkpoints.append((datetime.now(UTC), active))

    @invariant()
    def no_cycles_and_one_head_per_lineage(self) -> None:
        memories = self.model.memories
        roots: dict[str, str] = {}
        for mid in memories:
            seen: list[str] = []
            current: str | None = mid
            while current is not None and current in memories:
                assert current not in seen, f"cycle through {seen}"
                seen.append(current)
                current = memories[current]["superseded_by"]
            roots[mid] = seen[-1]
        for root in set(roots.values()):
            lineage = [mid for mid, r in roots.items() if r == root]
            assert sum(memories[mid]["status"] != "superseded" for mid in lineage) <= 1

    @invariant()
    def one_active_memory_per_kind_and_content(self) -> None:
        keys = [(m["kind"], m["norm"]) for m in self.model.memories.values() if m["status"] == "active"]
        assert len(keys) == len(set(keys))

    @invariant()
    def histories_are_complete_and_ordered(self) -> None:
        for mid, m in self.model.memories.items():
            events = self.store.history(mid, Scope(**self.scope)).events
            assert [e.op for e in events] == m["ops"]
            assert [e.seq for e in events] == sorted(e.seq for e in events)


WHERE: dict[str, Any] = {}  # the machine is built by hypothesis, which takes no fixtures
SETTINGS = settings(
    max_examples=loops(15, 60),
    stateful_step_count=loops(15, 40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_memory_operations_against_a_model_on_sqlite(tmp_path: Path) -> None:
    WHERE.clear()
    WHERE["tmp"] = str(tmp_path)
    run_state_machine_as_test(MemoryMachine, settings=SETTINGS)


def test_memory_operations_against_a_model_on_postgres(pg_url: str) -> None:
    engine = create_engine(pg_url)
    upgrade(engine)
    WHERE.clear()
    WHERE["engine"] = engine
    try:
        run_state_machine_as_test(MemoryMachine, settings=settings(SETTINGS, max_examples=loops(10, 40)))
    finally:
        WHERE.clear()
        engine.dispose()
