"""The in-process search index of agent memory: per scope, its memories with their embeddings (one matrix) and their
words (BM25 postings), kept current by the scope's events.

A search first asks the operational DB one question, the scope's event count and newest event id (an index on
``memory_events (scope_key, id)``), and answers from memory when neither has moved. When they have, it reads the
events after the newest it saw and reloads only the memories they name. Events are never deleted and every memory
write adds one in its own transaction, so the count and the newest id together name the scope's state; and if the
count shows that an event with a lower id committed meanwhile (PostgreSQL hands out ids before commit), the scope
is read whole again. Each process keeps its own index and sees another process's writes at its next search. At most
``capacity`` scopes are kept, the least recently searched leaving first; a FORGET drops its scope at once.

Embeddings come from the embedding cache (warmed when content is written) or, for any not there yet, from the
embedder when the memory enters the index; without an embedder the index has no vectors and search ranks by words,
and the memories left without one are embedded again at most every 30 seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from lakehouse.errors import StoreUnavailable
from lakehouse.memory import rows
from lakehouse.memory.model import Memory, Scope
from lakehouse.memory.ranking import BM25_B, BM25_K1, terms
from lakehouse.opsdb.engine import read_transaction
from lakehouse.opsdb.schema import memories, memory_events

RETRY_SECONDS = 30.0  # how often memories left without a vector (no embedder then) are embedded again
Embed = Callable[[list[str]], "np.ndarray[Any, Any] | None"]


@dataclass
class Entry:
    memory: Memory
    bag: Counter[str]
    length: int
    vector: np.ndarray[Any, Any] | None = None


@dataclass
class ScopeIndex:
    """One scope's memories (all statuses), their BM25 postings and, built when first asked, their vector matrix."""

    count: int = -1  # the scope's event count and newest event id when last caught up (-1: never)
    newest: int = 0
    entries: dict[str, Entry] = field(default_factory=dict)
    postings: dict[str, dict[str, int]] = field(default_factory=dict)  # term -> memory id -> frequency
    total_length: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    embedded_at: float = 0.0  # when embeddings were last asked for (monotonic seconds)
    _order: dict[str, int] | None = None  # each memory id's row in the matrix (None: to be rebuilt)
    _matrix: np.ndarray[Any, Any] | None = None

    def put(self, memory: Memory, vector: np.ndarray[Any, Any] | None) -> None:
        self.drop(memory.id)
        bag = Counter(terms(memory.content))
        entry = Entry(memory, bag, sum(bag.values()), vector)
        self.entries[memory.id] = entry
        for term, frequency in bag.items():
            self.postings.setdefault(term, {})[memory.id] = frequency
        self.total_length += entry.length
        self._order = None

    def drop(self, memory_id: str) -> None:
        entry = self.entries.pop(memory_id, None)
        if entry is None:
            return
        for term in entry.bag:
            posting = self.postings[term]
            del posting[memory_id]
            if not posting:
                del self.postings[term]
        self.total_length -= entry.length
        self._order = None

    def matrix(self) -> tuple[dict[str, int], np.ndarray[Any, Any] | None]:
        """Each memory id's row and the unit vectors, one row each (None when any memory has no vector)."""
        if self._order is None:
            self._order = {memory_id: row for row, memory_id in enumerate(self.entries)}
            vectors = [v for i in self._order if (v := self.entries[i].vector) is not None]
            if not vectors or len(vectors) < len(self._order):
                self._matrix = None
            else:
                stacked = np.stack(vectors).astype(np.float32, copy=False)
                norms = np.linalg.norm(stacked, axis=1, keepdims=True)
                norms[norms == 0] = 1.0
                self._matrix = stacked / norms
        return self._order, self._matrix

    def bm25(self, wanted: list[str], ids: Iterable[str] | None) -> dict[str, tuple[float, list[str]]]:
        """Okapi BM25 of ``ids`` (every memory when None; those that contain a wanted term) over the whole scope's
        statistics."""
        n = len(self.entries)
        if not n or not wanted:
            return {}
        average = self.total_length / n or 1.0
        allowed = None if ids is None else set(ids)
        out: dict[str, tuple[float, list[str]]] = {}
        for term in wanted:
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for memory_id, frequency in posting.items():
                if allowed is not None and memory_id not in allowed:
                    continue
                length = self.entries[memory_id].length
                part = (
                    idf * frequency * (BM25_K1 + 1) / (frequency + BM25_K1 * (1 - BM25_B + BM25_B * length / average))
                )
                score, hit = out.get(memory_id, (0.0, []))
                out[memory_id] = (score + part, [*hit, term])
        return out


class SearchIndex:
    """The scopes' indexes of one process (thread-safe: each scope has its lock)."""

    def __init__(self, db: sa.Engine, embed: Embed, capacity: int = 256) -> None:
        self.db = db
        self._embed = embed
        self.capacity = capacity
        self._scopes: OrderedDict[str, ScopeIndex] = OrderedDict()
        self._lock = threading.Lock()

    def scope(self, where: Scope) -> ScopeIndex:
        """The scope's index, caught up with every write committed before this call; hold its ``lock`` while
        reading it."""
        with self._lock:
            index = self._scopes.get(where.key)
            if index is None:
                index = self._scopes[where.key] = ScopeIndex()
            self._scopes.move_to_end(where.key)
            while len(self._scopes) > self.capacity:
                self._scopes.popitem(last=False)
        with index.lock:
            self._catch_up(index, where)
        return index

    def discard(self, where: Scope) -> None:
        """Forget a scope's index (a FORGET purged content from it); the next search reads the scope anew."""
        with self._lock:
            self._scopes.pop(where.key, None)

    _state = sa.select(sa.func.count(), sa.func.max(memory_events.c.id)).where(
        memory_events.c.scope_key == sa.bindparam("scope_key")
    )
    _later = sa.select(memory_events.c.memory_id).where(
        memory_events.c.scope_key == sa.bindparam("scope_key"), memory_events.c.id > sa.bindparam("newest")
    )

    def _catch_up(self, index: ScopeIndex, where: Scope) -> None:
        key = {"scope_key": where.key}
        if index.count >= 0:  # the usual case, nothing written since: one statement, no transaction to open
            try:
                with self.db.connect() as conn:
                    count, newest = conn.execute(self._state, key).one()
            except sa.exc.OperationalError as exc:
                raise StoreUnavailable(f"operational DB unreachable: {exc.orig}", field="opsdb") from exc
            if (count, int(newest or 0)) == (index.count, index.newest):
                self._embed_missing(index)
                return
        with read_transaction(self.db) as conn:  # what changed, read in one state of the database
            count, newest = conn.execute(self._state, key).one()
            newest = int(newest or 0)
            if (count, newest) == (index.count, index.newest):
                return
            changed: set[str] | None = None
            if index.count >= 0:
                named = list(conn.execute(self._later, {**key, "newest": index.newest}).scalars())
                if index.count + len(named) == count:  # no event below the newest seen committed since
                    changed = set(named)
            query = sa.select(memories).where(memories.c.scope_key == where.key)
            if changed is not None:
                query = query.where(memories.c.id.in_(sorted(changed)))
            heads = [rows.row_to_memory(row) for row in conn.execute(query)]
        vectors = self._vectors(heads, index)
        if changed is None:
            index.entries.clear()
            index.postings.clear()
            index.total_length = 0
            index._order = None
        else:
            for memory_id in changed - {m.id for m in heads}:
                index.drop(memory_id)
        for memory, vector in zip(heads, vectors, strict=True):
            index.put(memory, vector)
        index.count, index.newest = count, newest
        index.embedded_at = time.monotonic()

    def _embed_missing(self, index: ScopeIndex) -> None:
        """Memories that entered the index while no embedder could be had are embedded again, at most every
        ``RETRY_SECONDS`` (until then, and if it fails again, search ranks the scope by words)."""
        if time.monotonic() - index.embedded_at < RETRY_SECONDS:
            return
        index.embedded_at = time.monotonic()
        missing = [entry.memory for entry in index.entries.values() if entry.vector is None]
        if not missing:
            return
        embedded = self._embed([m.content for m in missing])
        if embedded is not None:
            for memory, vector in zip(missing, embedded, strict=True):
                index.entries[memory.id].vector = vector
            index._order = None

    def _vectors(self, heads: list[Memory], index: ScopeIndex) -> list[np.ndarray[Any, Any] | None]:
        """Each head's embedding: kept from the index when its content has not changed, else from the cache or the
        embedder (None for all when no embedder can be had)."""
        out: list[np.ndarray[Any, Any] | None] = []
        missing: list[int] = []
        for position, memory in enumerate(heads):
            known = index.entries.get(memory.id)
            if known is not None and known.vector is not None and known.memory.content == memory.content:
                out.append(known.vector)
            else:
                out.append(None)
                missing.append(position)
        if missing:
            embedded = self._embed([heads[p].content for p in missing])
            if embedded is not None:
                for position, vector in zip(missing, embedded, strict=True):
                    out[position] = vector
        return out
