"""Memory search: the scope's memories (or each one as it was at ``as_of``), narrowed by kind, tags, metadata and
world time, ranked by meaning (cosine of cached embeddings) and by words (BM25), the two fused by relative scores
or by reciprocal rank (``memory.ranking``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from lakehouse.filters import compile_filter
from lakehouse.memory import rows
from lakehouse.memory.index import SearchIndex
from lakehouse.memory.model import (
    KeywordMatch,
    Matched,
    Memory,
    MemorySearch,
    Scope,
    SearchHit,
    SearchResults,
    SemanticMatch,
)
from lakehouse.memory.ranking import bm25, cosine, fuse, fuse_relative, ranked, terms
from lakehouse.opsdb.schema import memories, memory_revisions

Embed = Callable[[list[str]], "np.ndarray[Any, Any] | None"]


def search_memories(db: sa.Engine, scopes: SearchIndex, embed: Embed, request: MemorySearch) -> SearchResults:
    """Semantic (embeddings, by ``embed``) and keyword (BM25) rankings of the scope's memories for the query, fused
    (``fusion``: ``relative``, each list's scores scaled to 0-1 and weighted ``alpha`` for meaning, ``1 - alpha``
    for words; or ``rrf``, reciprocal rank). Retired and superseded memories are left out unless included;
    ``suppressed`` counts those that would have been among the ``k``. ``as_of``: the memories as they were then,
    by the system's time axis (each one's revision current at that time, read from ``db``; otherwise from the
    in-process index ``scopes``). ``valid_at``: only memories true in the world then (``valid_from`` <= it <
    ``valid_until``, open bounds when not given)."""
    where, text, k, kinds = request.scope, request.query, request.k, request.kinds
    wanted_tags = request.tags or []
    moment, world = request.as_of, request.valid_at
    filter = request.filter
    compiled = compile_filter(filter) if filter is not None else None

    def wanted(m: Memory) -> bool:
        return (
            (not kinds or m.kind in kinds)
            and all(t in m.tags for t in wanted_tags)
            and (compiled is None or compiled(m.metadata))
            and (
                world is None
                or (
                    (m.valid_from is None or m.valid_from <= world) and (m.valid_until is None or world < m.valid_until)
                )
            )
        )

    query_vector = embed([text])
    similarity: np.ndarray[Any, Any] | None = None  # float64, one per candidate, in candidate order
    if moment is None:  # now: from the in-process index, caught up with the scope's events
        everything = not kinds and not wanted_tags and compiled is None and world is None
        scoped = scopes.scope(where)
        with scoped.lock:
            if everything:
                candidates = [entry.memory for entry in scoped.entries.values()]
            else:
                candidates = [entry.memory for entry in scoped.entries.values() if wanted(entry.memory)]
            candidates.sort(key=lambda m: m.id)
            keyword = scoped.bm25(list(dict.fromkeys(terms(text))), None if everything else (m.id for m in candidates))
            rows_of, matrix = scoped.matrix()
            if query_vector is not None and matrix is not None:
                scores = matrix @ _unit(query_vector[0])
                similarity = scores[[rows_of[m.id] for m in candidates]].astype(np.float64)
    else:  # as it was then: each memory's revision current at ``moment``
        candidates = [m for m in _candidates(db, where, moment) if wanted(m)]
        candidates.sort(key=lambda m: m.id)
        scored = bm25(text, [m.content for m in candidates])
        keyword = {m.id: hit for m, hit in zip(candidates, scored, strict=True) if hit[0] > 0}
        vectors = embed([m.content for m in candidates]) if candidates and query_vector is not None else None
        if vectors is not None:
            assert query_vector is not None
            similarity = cosine(query_vector[0], vectors).astype(np.float64)
    by_words = sorted(
        (i for i, m in enumerate(candidates) if m.id in keyword), key=lambda i: -keyword[candidates[i].id][0]
    )
    word_rank = {index: rank for rank, index in enumerate(by_words, start=1)}
    meaning: np.ndarray[Any, Any] | None = None  # candidate indices by similarity, best first
    meaning_rank: np.ndarray[Any, Any] | None = None  # each candidate's rank in it
    if similarity is not None:
        meaning = np.argsort(-similarity, kind="stable")
        meaning_rank = np.empty(len(candidates), dtype=np.int64)
        meaning_rank[meaning] = np.arange(1, len(candidates) + 1)
    words = np.asarray(by_words, dtype=np.int64)
    size = len(candidates)
    if request.fusion == "rrf":
        fused = fuse([words] if meaning is None else [words, meaning], size)
    else:
        lists = {"keyword": (words, np.asarray([keyword[candidates[i].id][0] for i in by_words], dtype=np.float64))}
        if similarity is not None:
            lists["semantic"] = (np.arange(size), similarity)
        fused = fuse_relative(lists, {"semantic": request.alpha, "keyword": 1.0 - request.alpha}, size)
    results: list[SearchHit] = []
    suppressed = 0
    for index in ranked(fused):
        memory = candidates[index]
        if (memory.status == "retired" and not request.include_retired) or (
            memory.status == "superseded" and not request.include_superseded
        ):
            if len(results) + suppressed < k:
                suppressed += 1
            continue
        if len(results) == k:
            break
        matched = Matched()
        if index in word_rank:
            score, hit = keyword[memory.id]
            matched.keyword = KeywordMatch(rank=word_rank[index], score=round(score, 6), terms=hit)
        if similarity is not None and meaning_rank is not None:
            matched.semantic = SemanticMatch(
                rank=int(meaning_rank[index]), similarity=round(float(similarity[index]), 6)
            )
        results.append(
            SearchHit.model_construct(**dict(memory), score=round(float(fused[0][index]), 6), matched=matched)
        )
    return SearchResults(results=results, suppressed=suppressed, semantic=similarity is not None)


def _unit(vector: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm else vector).astype(np.float32, copy=False)


def _candidates(db: sa.Engine, where: Scope, moment: datetime | None) -> list[Memory]:
    """The scope's memories now, or each as its revision current at ``moment`` (those recorded by then)."""
    with db.connect() as conn:
        heads = [
            rows.row_to_memory(r) for r in conn.execute(sa.select(memories).where(memories.c.scope_key == where.key))
        ]
        if moment is None:
            return heads
        by_id = {m.id: m for m in heads}
        revisions = (
            conn.execute(
                sa.select(memory_revisions)
                .where(
                    memory_revisions.c.memory_id.in_(list(by_id)),
                    memory_revisions.c.recorded_at <= moment,
                )
                .order_by(memory_revisions.c.memory_id, memory_revisions.c.version)
            ).all()
            if by_id
            else []
        )
    then: dict[str, Any] = {}
    for row in revisions:
        then[row.memory_id] = row  # the last one (highest version) recorded by then wins
    out = []
    for memory_id, row in then.items():
        head = by_id[memory_id]
        out.append(
            Memory.model_construct(
                id=head.id,
                scope=head.scope,
                kind=head.kind,
                content=row.content,
                data=None if row.data is None else json.loads(row.data),
                metadata=json.loads(row.meta),
                tags=json.loads(row.tags),
                status=row.status,
                version=row.version,
                valid_from=row.valid_from,
                valid_until=row.valid_until,
                recorded_at=head.recorded_at,
                updated_at=row.recorded_at,
            )
        )
    return out
