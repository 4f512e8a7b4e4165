"""Memory search: the scope's memories (or each one as it was at ``as_of``), narrowed by kind, tags, metadata and
world time, ranked by meaning (cosine of cached embeddings) and by words (BM25), the two fused by relative scores
or by reciprocal rank (``memory.ranking``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from lakehouse.errors import ErrorItem, RequestValidationFailed
from lakehouse.filters.language import compile_filter
from lakehouse.memory import rows
from lakehouse.memory.model import KINDS, Memory, Scope, aware, check_content, check_tags, check_time
from lakehouse.memory.ranking import ALPHA, FUSIONS, bm25, cosine, fuse, fuse_relative, terms
from lakehouse.opsdb.schema import memories, memory_revisions

if TYPE_CHECKING:
    from lakehouse.memory.store import MemoryStore


def search_memories(
    store: MemoryStore,
    scope: Any,
    query: Any,
    *,
    k: int = 10,
    kinds: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    filter: Any = None,
    as_of: Any = None,
    valid_at: Any = None,
    include_retired: bool = False,
    include_superseded: bool = False,
    fusion: str = "relative",
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """Semantic (embeddings) and keyword (BM25) rankings of the scope's memories for ``query``, fused (``fusion``:
    ``relative``, each list's scores scaled to 0-1 and weighted ``alpha`` for meaning, ``1 - alpha`` for words; or
    ``rrf``, reciprocal rank):
    ``{"results": [{..memory.., "score", "matched": {"semantic"?, "keyword"?}}], "suppressed": N, "semantic": bool}``.
    Retired and superseded memories are left out unless included; ``suppressed`` counts
    those that would have been among the ``k``. ``as_of`` (a time): the memories as they were then, by the
    system's time axis (each one's revision current at that time). ``valid_at``: only memories true in the
    world then (``valid_from`` <= it < ``valid_until``, open bounds when not given)."""
    where = Scope.parse(scope)
    problems: list[ErrorItem] = []
    text = check_content(query, "query", problems)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 1000:
        problems.append(ErrorItem(kind="validation_failed", field="k", reason="k is 1-1000"))
    if kinds is not None and (not isinstance(kinds, list | tuple) or any(x not in KINDS for x in kinds)):
        problems.append(ErrorItem(kind="validation_failed", field="kinds", reason=f"a list of {', '.join(KINDS)}"))
    wanted_tags = check_tags(tags, "tags", problems) if tags is not None else []
    if fusion not in FUSIONS:
        problems.append(ErrorItem(kind="validation_failed", field="fusion", reason=f"one of {', '.join(FUSIONS)}"))
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        problems.append(ErrorItem(kind="validation_failed", field="alpha", reason="a number from 0 to 1"))
    moment = check_time(as_of, "as_of", problems)
    world = check_time(valid_at, "valid_at", problems)
    if problems:
        raise RequestValidationFailed("the search cannot be made as asked", errors=problems)
    compiled = compile_filter(filter) if filter is not None else None
    assert text is not None

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

    query_vector = store.embed([text])
    similarity: dict[str, float] | None = None
    if moment is None:  # now: from the in-process index, caught up with the scope's events
        scoped = store.index.scope(where)
        with scoped.lock:
            candidates = [entry.memory for entry in scoped.entries.values() if wanted(entry.memory)]
            keyword = scoped.bm25(list(dict.fromkeys(terms(text))), (m.id for m in candidates))
            ids, matrix = scoped.matrix()
            if query_vector is not None and matrix is not None:
                scores = matrix @ _unit(query_vector[0])
                chosen = {m.id for m in candidates}
                similarity = {i: float(s) for i, s in zip(ids, scores.tolist(), strict=True) if i in chosen}
    else:  # as it was then: each memory's revision current at ``moment``
        candidates = [m for m in _candidates(store.db, where, moment) if wanted(m)]
        scored = bm25(text, [m.content for m in candidates])
        keyword = {m.id: hit for m, hit in zip(candidates, scored, strict=True) if hit[0] > 0}
        vectors = store.embed([m.content for m in candidates]) if candidates and query_vector is not None else None
        if vectors is not None:
            assert query_vector is not None
            scores = cosine(query_vector[0], vectors)
            similarity = {m.id: float(s) for m, s in zip(candidates, scores.tolist(), strict=True)}
    candidates.sort(key=lambda m: m.id)
    rankings: dict[str, list[int]] = {
        "keyword": sorted(
            (i for i, m in enumerate(candidates) if m.id in keyword), key=lambda i: -keyword[candidates[i].id][0]
        )
    }
    if similarity is not None:
        rankings["semantic"] = sorted(range(len(candidates)), key=lambda i: -similarity[candidates[i].id])
    if fusion == "rrf":
        fused = fuse(rankings)
    else:
        lists = {"keyword": {i: keyword[candidates[i].id][0] for i in rankings["keyword"]}}
        if similarity is not None:
            lists["semantic"] = {i: similarity[m.id] for i, m in enumerate(candidates)}
        fused = fuse_relative(lists, {"semantic": float(alpha), "keyword": 1.0 - float(alpha)})
    order = sorted(fused, key=lambda i: (-fused[i], candidates[i].id))
    positions = {name: {index: rank for rank, index in enumerate(ranked, start=1)} for name, ranked in rankings.items()}
    results: list[dict[str, Any]] = []
    suppressed = 0
    for index in order:
        memory = candidates[index]
        if (memory.status == "retired" and not include_retired) or (
            memory.status == "superseded" and not include_superseded
        ):
            if len(results) + suppressed < k:
                suppressed += 1
            continue
        if len(results) == k:
            continue
        matched: dict[str, Any] = {}
        if index in positions["keyword"]:
            score, hit = keyword[memory.id]
            matched["keyword"] = {"rank": positions["keyword"][index], "score": round(score, 6), "terms": hit}
        if similarity is not None:
            matched["semantic"] = {
                "rank": positions["semantic"][index],
                "similarity": round(similarity[memory.id], 6),
            }
        results.append({**memory.to_dict(), "score": round(fused[index], 6), "matched": matched})
    return {"results": results, "suppressed": suppressed, "semantic": similarity is not None}


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
            Memory(
                id=head.id,
                scope=head.scope,
                kind=head.kind,
                content=row.content,
                data=None if row.data is None else json.loads(row.data),
                metadata=json.loads(row.meta),
                tags=json.loads(row.tags),
                status=row.status,
                version=row.version,
                valid_from=aware(row.valid_from),
                valid_until=aware(row.valid_until),
                recorded_at=head.recorded_at,
                updated_at=aware(row.recorded_at),  # type: ignore[arg-type]
            )
        )
    return out
