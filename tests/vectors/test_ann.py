"""The HNSW path of a collection's state: recall against exact filtered search at 50 %, 5 % and 0.1 % filter
selectivity on 50k clustered vectors, and updates and deletes while the index is live."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from lakehouse.filters import compile_filter
from lakehouse.vectors.state import AnnParams, CollectionState

N, DIM, K = 50_000, 64, 10


def _table(vectors: np.ndarray[Any, Any], metadata: list[str]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([f"p{i}" for i in range(len(vectors))]),
            "vector": pa.array(list(vectors), pa.list_(pa.float32())),
            "metadata": pa.array(metadata),
            "text": pa.array([None] * len(vectors), pa.string()),
        }
    )


@pytest.fixture(scope="module")
def clustered() -> tuple[CollectionState, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """50k vectors around 200 centres; each point's metadata ``bucket`` is i % 1000, so ``bucket < b`` keeps b/10 %."""
    rng = np.random.default_rng(42)
    centres = rng.normal(size=(200, DIM)).astype(np.float32)
    vectors = (centres[rng.integers(0, 200, N)] + 0.35 * rng.normal(size=(N, DIM))).astype(np.float32)
    buckets = np.arange(N) % 1000
    state = CollectionState("uid", DIM, "cosine", AnnParams())
    state.load(_table(vectors, [f'{{"bucket": {b}}}' for b in buckets]), snapshot=1)
    assert state.index_kind == "hnsw"
    queries = (centres[rng.integers(0, 200, 100)] + 0.35 * rng.normal(size=(100, DIM))).astype(np.float32)
    return state, vectors, queries


@pytest.mark.parametrize(
    ("spec", "selectivity"),
    [(None, 1.0), ({"bucket": {"lt": 500}}, 0.5), ({"bucket": {"lt": 50}}, 0.05), ({"bucket": 7}, 0.001)],
)
def test_recall_at_10_against_exact_filtered_search(
    clustered: tuple[CollectionState, np.ndarray[Any, Any], np.ndarray[Any, Any]], spec: Any, selectivity: float
) -> None:
    state, vectors, queries = clustered
    normalized = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    buckets = np.arange(N) % 1000
    allowed = (
        np.ones(N, dtype=bool)
        if spec is None
        else np.asarray([compile_filter(spec)({"bucket": int(b)}) for b in buckets])
    )
    assert abs(allowed.mean() - selectivity) < 1e-9
    mask = None if spec is None else state.mask(compile_filter(spec))
    hits = 0
    for q in queries:
        qn = q / np.linalg.norm(q)
        scores = np.where(allowed, normalized @ qn, -np.inf)
        truth = {f"p{i}" for i in np.argsort(-scores)[:K]}
        found = state.search(q, K, mask)
        assert len(found) == K
        hits += len(truth & {p.id for p, _ in found})
    recall = hits / (K * len(queries))
    assert recall >= 0.95, f"recall@10 {recall:.3f} at selectivity {selectivity}"


def test_updates_and_deletes_while_the_index_is_live() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    state = CollectionState("uid", 8, "l2", AnnParams(min_points=50, exact_limit=0))
    state.load(_table(vectors, ["{}"] * 200), snapshot=1)
    assert state.index_kind == "hnsw"
    far = (vectors[0] + 100).tolist()
    changes = [
        (2, "delete", "p5", vectors[5].tolist(), "{}", None),
        (2, "delete", "p9", vectors[9].tolist(), "{}", None),
        (2, "insert", "p9", far, '{"moved": true}', None),
        (2, "insert", "new", vectors[5].tolist(), "{}", None),  # takes p5's freed position
    ]
    state.apply(changes, snapshot=2)
    assert [p.id for p, _ in state.search(vectors[5], 1, None)] == ["new"]
    assert "p5" not in {p.id for p, _ in state.search(vectors[5], 50, None)}
    moved = state.search(np.asarray(far, dtype=np.float32), 1, None)
    assert moved[0][0].id == "p9" and moved[0][1] == pytest.approx(0.0, abs=1e-3)
    only_moved = state.search(vectors[0], 3, state.mask(compile_filter({"moved": True})))
    assert [p.id for p, _ in only_moved] == ["p9"]
    assert len(state) == 200


def test_churn_leaves_dead_entries_that_never_come_back_and_the_index_is_rebuilt() -> None:
    """Replacing and deleting points while the index is live: a replaced point is found at its new vector only,
    a deleted one never, and once a quarter of the index's entries are dead it is built anew from the live rows."""
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(400, 16)).astype(np.float32)
    state = CollectionState("uid", 16, "cosine", AnnParams(min_points=100, rebuild_dead=0.25))
    state.load(_table(vectors, ["{}"] * 400), snapshot=1)
    first_index = state._ann
    current = {f"p{i}": vectors[i] for i in range(400)}
    snapshot = 1
    for round_ in range(6):
        snapshot += 1
        changes: list[tuple[Any, ...]] = []
        for i in rng.choice(400, 40, replace=False):
            point_id = f"p{i}"
            if point_id in current:
                changes.append((snapshot, "delete", point_id, current[point_id].tolist(), "{}", None))
            if round_ % 3 == 2 and i % 2:
                current.pop(point_id, None)  # deleted for good
                continue
            current[point_id] = rng.normal(size=16).astype(np.float32)
            changes.append((snapshot, "insert", point_id, current[point_id].tolist(), "{}", None))
        state.apply(changes, snapshot=snapshot)
        assert state._ann is not None and state._ann.dead_fraction <= 0.25
        for point_id, vector in current.items():
            assert state.search(vector, 1, None)[0][0].id == point_id
        returned = {p.id for p, _ in state.search(rng.normal(size=16).astype(np.float32), 400, None)}
        assert returned == set(current)
    assert state._ann is not first_index  # rebuilt on the way
    assert len(state) == len(current)
