"""The in-process search index: caught up by the scope's events (only the memories they name are reread), read
whole again when an event with a lower id commits late, shared by no scope, bounded, dropped by FORGET, and always
answering what a fresh read of the database would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lakehouse.config import MemorySettings, Settings
from lakehouse.embed import Embeddings
from lakehouse.memory import AddMemory, ChangeMemory, ForgetMemory, MemorySearch, MemoryStore, RetireMemory, Scope
from lakehouse.memory import index as index_module
from lakehouse.memory.index import SearchIndex
from lakehouse.opsdb import create_engine, upgrade
from lakehouse.opsdb.schema import memory_events

SCOPE = {"tenant": "acme", "user_id": "u1"}


@pytest.fixture
def embeddings(engine: sa.Engine) -> Iterator[Callable[[Settings], Embeddings]]:
    """Embeddings over the test's engine, closed (their cache writes done) before the engine goes."""
    opened: list[Embeddings] = []

    def make(settings: Settings) -> Embeddings:
        opened.append(Embeddings(settings, engine))
        return opened[-1]

    yield make
    for made in opened:
        made.close()


@pytest.fixture
def engine(opsdb_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(opsdb_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _contents(answer: dict[str, Any]) -> list[str]:
    return [r.content for r in answer.results]


def _reads(index: SearchIndex) -> list[int]:
    """Counts the heads each catch-up reads (wraps the index's embedder, which sees every reread content)."""
    seen: list[int] = []
    embed = index._embed

    def counting(texts: list[str]) -> Any:
        seen.append(len(texts))
        return embed(texts)

    index._embed = counting
    return seen


def test_a_search_rereads_only_what_changed_and_sees_other_writers(engine: sa.Engine) -> None:
    writer, reader = MemoryStore(engine), MemoryStore(engine)  # two processes' stores on one database
    first = writer.add(AddMemory(scope=SCOPE, kind="fact", content="The invoice run starts on Mondays"))
    writer.add(AddMemory(scope=SCOPE, kind="fact", content="Refunds are approved by the finance team"))
    assert (
        _contents(reader.search(MemorySearch(scope=SCOPE, query="invoice")))[0] == "The invoice run starts on Mondays"
    )
    writer.update(first.id, ChangeMemory(scope=SCOPE, expected_version=1, content="The invoice run starts on Fridays"))
    scoped = reader.index.scope(Scope(**SCOPE))
    assert scoped.entries[first.id].memory.content == "The invoice run starts on Fridays"
    assert "mondays" not in scoped.postings and scoped.postings["fridays"] == {first.id: 1}
    retired = writer.add(AddMemory(scope=SCOPE, kind="fact", content="Invoices go out by post"))
    writer.retire(retired.id, RetireMemory(scope=SCOPE, reason="we email them now"))
    answer = reader.search(MemorySearch(scope=SCOPE, query="invoice post"))
    assert retired.id not in [r.id for r in answer.results] and answer.suppressed == 1
    assert answer.semantic is False  # no embedder: words alone
    assert set(scoped.entries) == {m.id for m in writer.list_memories(Scope(**SCOPE))}


def test_incremental_catch_up_embeds_only_named_memories(
    engine: sa.Engine, tmp_path: Path, embeddings: Callable[[Settings], Embeddings]
) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path / "data", "embed": {"provider": "hashing"}})
    writer = MemoryStore(engine, embeddings(settings))
    reader = MemoryStore(engine, embeddings(settings))
    for n in range(20):
        writer.add(AddMemory(scope=SCOPE, kind="fact", content=f"note number {n} about the warehouse"))
    reads = _reads(reader.index)
    assert len(reader.search(MemorySearch(scope=SCOPE, query="warehouse", k=30)).results) == 20
    assert reads == [20]  # the first search reads the scope whole
    reader.search(MemorySearch(scope=SCOPE, query="warehouse"))
    assert reads == [20]  # nothing changed: nothing reread
    changed = writer.add(AddMemory(scope=SCOPE, kind="fact", content="the loading dock closes at six"))
    writer.update(changed.id, ChangeMemory(scope=SCOPE, expected_version=1, tags=["hours"]))
    answer = reader.search(MemorySearch(scope=SCOPE, query="when does the loading dock close", k=1))
    assert answer.semantic is True and answer.results[0].id == changed.id
    assert reads == [20, 1]  # one memory named by two new events: one reread, embedded once


def test_an_event_that_commits_below_the_newest_seen_makes_the_scope_read_whole(engine: sa.Engine) -> None:
    store = MemoryStore(engine)
    key = Scope(**SCOPE).key

    def renumber(memory_id: str, new_id: int) -> None:
        with engine.begin() as conn:
            conn.execute(memory_events.update().where(memory_events.c.memory_id == memory_id).values(id=new_id))

    store.add(AddMemory(scope=SCOPE, kind="fact", content="alpha"))
    late = store.add(AddMemory(scope=SCOPE, kind="fact", content="beta"))
    renumber(late.id, 100)  # the newest id is 100
    assert sorted(_contents(store.search(MemorySearch(scope=SCOPE, query="alpha beta", k=5)))) == ["alpha", "beta"]
    assert store.index.scope(Scope(**SCOPE)).newest == 100
    # a write whose event id is below 100 (as when a PostgreSQL transaction that took its id earlier commits later)
    gamma = store.add(AddMemory(scope=SCOPE, kind="fact", content="gamma"))
    renumber(gamma.id, 50)
    with engine.connect() as conn:
        count, newest = conn.execute(
            sa.select(sa.func.count(), sa.func.max(memory_events.c.id)).where(memory_events.c.scope_key == key)
        ).one()
    assert (count, newest) == (3, 100)  # the newest id did not move; only the count says something committed
    assert sorted(_contents(store.search(MemorySearch(scope=SCOPE, query="alpha beta gamma", k=5)))) == [
        "alpha",
        "beta",
        "gamma",
    ]


def test_scopes_are_bounded_and_forget_drops_its_scope(engine: sa.Engine) -> None:
    store = MemoryStore(engine)
    store.index.capacity = 2
    scopes = [{"tenant": "acme", "user_id": f"u{n}"} for n in range(3)]
    made = [
        store.add(AddMemory(scope=scope, kind="fact", content=f"secret of user {n}")) for n, scope in enumerate(scopes)
    ]
    for scope in scopes:
        store.search(MemorySearch(scope=scope, query="secret"))
    assert list(store.index._scopes) == [Scope(**s).key for s in scopes[1:]]  # the least recent left
    assert [r.id for r in store.search(MemorySearch(scope=scopes[0], query="secret")).results] == [
        made[0].id
    ]  # read again
    store.forget(made[2].id, ForgetMemory(scope=scopes[2], reason="asked"))
    assert Scope(**scopes[2]).key not in store.index._scopes
    assert store.search(MemorySearch(scope=scopes[2], query="secret")).results == []


def test_memories_indexed_while_the_embedder_was_down_get_vectors_later(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embeddings: Callable[[Settings], Embeddings]
) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path / "data", "embed": {"provider": "hashing"}})
    store = MemoryStore(engine, embeddings(settings), MemorySettings(embed_on_write="off"))
    store.add(AddMemory(scope=SCOPE, kind="fact", content="the loading dock closes at six"))
    working = store.index._embed
    store.index._embed = lambda texts: None  # the embedder cannot be had
    assert store.search(MemorySearch(scope=SCOPE, query="loading dock")).semantic is False  # words alone
    store.index._embed = working
    assert store.search(MemorySearch(scope=SCOPE, query="loading dock")).semantic is False  # not asked again so soon
    monkeypatch.setattr(index_module, "RETRY_SECONDS", 0.0)
    answer = store.search(MemorySearch(scope=SCOPE, query="loading dock"))
    assert answer.semantic is True and answer.results[0].matched.semantic.rank == 1
