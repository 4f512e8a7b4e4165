"""``CollectionState``: one process's in-memory copy of a collection's points, and the lake snapshot it reflects.

It is derived: the points are rows of the lake table ``vectors.<collection>``. ``load`` reads them all at one
snapshot; ``apply`` replays DuckLake's change feed between two snapshots (per snapshot, deletions before
insertions, so a point replaced in one commit ends as its new row). Search is exact: every live point is scored.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lakehouse.filters.columns import MetadataColumns
from lakehouse.filters.language import Filter

if TYPE_CHECKING:
    from lakehouse.vectors.ann import HnswIndex

Metric = str  # "cosine" | "dot" | "l2"


@dataclass(frozen=True)
class AnnParams:
    """HNSW parameters (FAISS) and the planner's thresholds; docs/architecture.md says how they were chosen."""

    min_points: int = 10_000
    exact_limit: int = 20_000
    oversample: float = 1.5
    connectivity: int = 16
    expansion_add: int = 128
    expansion_search: int = 64
    rebuild_dead: float = 0.25


@dataclass
class Point:
    id: str
    vector: np.ndarray[Any, np.dtype[np.float32]]
    metadata: dict[str, Any]
    text: str | None


def _write_synced(path: Path, text: str) -> None:
    with path.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _matrix(column: Any, dim: int) -> list[np.ndarray[Any, Any] | None]:
    """The rows of an Arrow list column as float32 arrays (None for a row of another length), converted in bulk
    when every row has ``dim`` values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return []
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    if array.null_count == 0 and (lengths == dim).all():
        flat = array.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        return list(flat.reshape(-1, dim))
    return [None if v is None or len(v) != dim else np.asarray(v, dtype=np.float32) for v in array.to_pylist()]


def _metadata(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    value = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return value if isinstance(value, dict) else {}


class CollectionState:
    """Rows kept in a growable matrix; a freed position is reused. Not thread-safe: the store holds its lock."""

    def __init__(self, uid: str, dim: int, metric: Metric, ann: AnnParams | None = None) -> None:
        self.uid = uid
        self.dim = dim
        self.metric = metric
        self.params = ann or AnnParams()
        self.snapshot = -1
        self.saved_snapshot = -1  # the snapshot of the index last saved or restored
        self.changes_since_save = 0
        self._reset()

    def _reset(self) -> None:
        self._matrix = np.zeros((0, self.dim), dtype=np.float32)  # normalized rows when the metric is cosine
        self._alive = np.zeros(0, dtype=bool)
        self._points: list[Point | None] = []
        self._position: dict[str, int] = {}
        self._free: list[int] = []
        self._columns = MetadataColumns(self._metadata_at)  # filtered fields, for filter masks
        self._ann: HnswIndex | None = None  # over positions, once the collection is large enough
        self._unindexed: set[int] = set()  # positions put since the index last took them

    def _metadata_at(self, position: int) -> dict[str, Any] | None:
        point = self._points[position]
        return None if point is None else point.metadata

    def __len__(self) -> int:
        return len(self._position)

    @property
    def memory_bytes(self) -> int:
        return int(self._matrix.nbytes + self._alive.nbytes + self._columns.nbytes + 200 * len(self._position))

    def get(self, point_id: str) -> Point | None:
        position = self._position.get(point_id)
        return None if position is None else self._points[position]

    def points(self) -> Iterable[Point]:
        return (p for p in self._points if p is not None)

    def matching(self, compiled: Filter) -> list[Point]:
        """The live points whose metadata satisfies ``compiled``."""
        positions = np.flatnonzero(self.live_mask & self.mask(compiled))
        return [self._points[p] for p in positions]  # type: ignore[misc]

    def load(self, table: Any, snapshot: int) -> None:
        """Every point, from an Arrow table (id, vector, metadata, text) read at ``snapshot``, in bulk."""
        self._reset()
        ids = [str(i) for i in table.column("id").to_pylist()]
        vectors = _matrix(table.column("vector"), self.dim)
        metadata = table.column("metadata").to_pylist()
        texts = table.column("text").to_pylist()
        keep = [i for i, row in enumerate(vectors) if row is not None]
        matrix = np.asarray([vectors[i] for i in keep], dtype=np.float32).reshape(-1, self.dim)
        stored = matrix
        if self.metric == "cosine" and len(matrix):
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            stored = np.divide(matrix, norms, out=matrix.copy(), where=norms > 0)
        capacity = max(64, len(keep))
        self._matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        self._matrix[: len(keep)] = stored
        self._alive = np.zeros(capacity, dtype=bool)
        self._alive[: len(keep)] = True
        for position, i in enumerate(keep):
            self._position[ids[i]] = position
            text = texts[i]
            self._points.append(
                Point(ids[i], matrix[position], _metadata(metadata[i]), None if text is None else str(text))
            )
        self._columns.resize(len(self._points))
        self.snapshot = snapshot
        self._maybe_build()

    def apply(self, changes: Iterable[tuple[Any, ...]], snapshot: int) -> None:
        """``changes``: (snapshot_id, change_type, id, vector, metadata, text), ordered by snapshot."""
        by_snapshot: dict[int, tuple[list[str], list[tuple[Any, ...]]]] = {}
        for snap, kind, point_id, vector, metadata, text in changes:
            deletes, inserts = by_snapshot.setdefault(int(snap), ([], []))
            if kind in ("delete", "update_preimage"):
                deletes.append(str(point_id))
            elif kind in ("insert", "update_postimage"):
                inserts.append((str(point_id), vector, metadata, text))
        for snap in sorted(by_snapshot):
            deletes, inserts = by_snapshot[snap]
            for point_id in deletes:
                self._drop(point_id)
            for row in inserts:
                self._put(*row)
        self._index_pending()
        self.snapshot = snapshot
        self.changes_since_save += sum(len(d) + len(i) for d, i in by_snapshot.values())
        self._maybe_build()

    def _put(self, point_id: str, vector: Any, metadata: Any, text: Any) -> None:
        row = np.asarray(vector, dtype=np.float32)
        if row.shape != (self.dim,):
            return  # not a point of this collection (the table is written by the store only)
        stored = row
        if self.metric == "cosine":
            norm = float(np.linalg.norm(row))
            stored = row / norm if norm else row
        position = self._position.get(point_id)
        if position is None:
            position = self._free.pop() if self._free else self._grow()
            self._position[point_id] = position
        self._matrix[position] = stored
        self._alive[position] = True
        if self._ann is not None:
            self._unindexed.add(position)
        point = self._points[position] = Point(point_id, row, _metadata(metadata), None if text is None else str(text))
        self._columns.put(position, point.metadata)

    def _drop(self, point_id: str) -> None:
        position = self._position.pop(point_id, None)
        if position is not None:
            self._alive[position] = False
            self._points[position] = None
            self._columns.put(position, None)
            self._free.append(position)
            if self._ann is not None:
                self._unindexed.discard(position)
                self._ann.remove(np.asarray([position], dtype=np.int64))

    def _index_pending(self) -> None:
        """Give the index, in one batch, the rows put since it last took them."""
        if self._ann is not None and self._unindexed:
            positions = np.asarray(sorted(self._unindexed), dtype=np.int64)
            self._ann.add(positions, self._matrix[positions])
        self._unindexed.clear()

    def _grow(self) -> int:
        position = len(self._points)
        if position >= len(self._matrix):
            capacity = max(64, 2 * len(self._matrix))
            matrix = np.zeros((capacity, self.dim), dtype=np.float32)
            matrix[: len(self._matrix)] = self._matrix
            alive = np.zeros(capacity, dtype=bool)
            alive[: len(self._alive)] = self._alive
            self._matrix, self._alive = matrix, alive
        self._points.append(None)
        self._columns.resize(len(self._points))
        return position

    @property
    def index_kind(self) -> str:
        return "hnsw" if self._ann is not None else "exact"

    def _maybe_build(self) -> None:
        """Build the HNSW index once the collection has ``params.min_points`` points (below that, scoring every
        point is as fast), and build it anew from the live rows once ``params.rebuild_dead`` of its slots are dead
        (replaced or deleted points)."""
        if len(self._position) < self.params.min_points:
            return
        if self._ann is not None and self._ann.dead_fraction <= self.params.rebuild_dead:
            return
        index = self._new_index()
        positions = np.flatnonzero(self._alive[: len(self._points)]).astype(np.int64)
        index.add(positions, self._matrix[positions])
        self._ann = index
        self._unindexed.clear()

    def _new_index(self) -> HnswIndex:
        from lakehouse.vectors.ann import HnswIndex

        return HnswIndex(self.dim, self.metric, self.params.connectivity, self.params.expansion_add)

    # -- saving the index with the snapshot it reflects -----------------------------------------------------------

    def save(self, directory: Path) -> bool:
        """Save the HNSW index, its slot map and the point id at each position, named by the snapshot they reflect
        and a token of this save, then point ``current.json`` at them (written aside and renamed: a reader finds a
        whole save, or the one before; two processes saving at once never pair one's index with the other's ids).
        Files no save points at are removed. False when there is no index to save."""
        if self._ann is None:
            return False
        self._index_pending()
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{self.snapshot}-{secrets.token_hex(4)}"
        index_name, slots_name, ids_name = f"index-{stem}.faiss", f"slots-{stem}.npy", f"ids-{stem}.json"
        self._ann.save(directory / index_name, directory / slots_name)
        _write_synced(directory / ids_name, json.dumps([p.id if p is not None else None for p in self._points]))
        current = {"snapshot": self.snapshot, "index": index_name, "slots": slots_name, "ids": ids_name}
        aside = directory / f"current-{stem}.json"
        _write_synced(aside, json.dumps({**current, "dim": self.dim, "metric": self.metric}))
        aside.replace(directory / "current.json")
        keep = (index_name, slots_name, ids_name, "current.json")
        for path in directory.iterdir():
            if path.name not in keep and path.name.startswith(("index-", "slots-", "ids-")):
                path.unlink(missing_ok=True)
        self.saved_snapshot = self.snapshot
        self.changes_since_save = 0
        return True

    @staticmethod
    def saved(directory: Path) -> dict[str, Any] | None:
        """What ``current.json`` names, or None when nothing (readable) was saved."""
        try:
            found = json.loads((directory / "current.json").read_text())
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and isinstance(found.get("snapshot"), int) else None

    def restore(self, table: Any, saved: dict[str, Any], directory: Path) -> bool:
        """The rows of ``table`` (read at the saved snapshot) put back at the positions they had, and the saved
        index loaded instead of built. False, leaving the state empty, when anything does not match."""
        self._reset()
        try:
            if saved.get("dim") != self.dim or saved.get("metric") != self.metric:
                return False
            from lakehouse.vectors.ann import HnswIndex

            ids: list[str | None] = json.loads((directory / str(saved["ids"])).read_text())
            index = HnswIndex.load(
                directory / str(saved["index"]), directory / str(saved["slots"]), self.dim, self.metric
            )
        except (OSError, ValueError, KeyError, RuntimeError):
            return False
        vectors = _matrix(table.column("vector"), self.dim)
        rows = {
            str(point_id): (vector, meta, text)
            for point_id, vector, meta, text in zip(
                table.column("id").to_pylist(),
                vectors,
                table.column("metadata").to_pylist(),
                table.column("text").to_pylist(),
                strict=True,
            )
        }
        live = [point_id for point_id in ids if point_id is not None]
        if len(live) != len(rows) or any(point_id not in rows for point_id in live):
            return False
        capacity = max(64, len(ids))
        self._matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        self._alive = np.zeros(capacity, dtype=bool)
        for position, point_id in enumerate(ids):
            if point_id is None:
                self._points.append(None)
                self._free.append(position)
                continue
            vector, meta, text = rows[point_id]
            if vector is None:
                self._reset()
                return False
            self._matrix[position] = self._stored(vector)
            self._alive[position] = True
            self._position[point_id] = position
            self._points.append(Point(point_id, vector, _metadata(meta), None if text is None else str(text)))
        self._columns.resize(len(self._points))
        if not np.array_equal(index.positions(), np.flatnonzero(self._alive)):
            self._reset()
            return False
        self._ann = index
        self.snapshot = self.saved_snapshot = int(saved["snapshot"])
        return True

    def search(
        self, query: np.ndarray[Any, np.dtype[np.float32]], k: int, allowed: np.ndarray[Any, Any] | None
    ) -> list[tuple[Point, float]]:
        """The ``k`` best live points (``allowed``: a boolean mask over positions), best first, with their score:
        cosine similarity, dot product, or Euclidean distance (l2: smaller is closer).

        Planned per query: without an index, or when the filter leaves at most ``params.exact_limit`` points, every
        candidate is scored (exact). Otherwise the HNSW index is asked for more than ``k`` (``k`` over the filter's
        selectivity, times ``params.oversample``) and the ask doubles until ``k`` allowed points are found; past
        half the collection it scores exactly instead."""
        if allowed is None and self._ann is not None and k > 0:  # the common case, kept short
            if self._unindexed:
                self._index_pending()
            positions, values = self._ann.search(self._stored(query), k, self.params.expansion_search)
            if len(positions) >= min(k, len(self._position)):
                return self._found(positions, values)
        count = len(self._points)
        if allowed is None:
            mask = self._alive[:count]
            candidates = len(self._position)
        else:
            mask = self._alive[:count] & allowed
            candidates = int(mask.sum())
        if not candidates or k <= 0:
            return []
        q = self._stored(query)
        if self._ann is None or (allowed is not None and candidates <= self.params.exact_limit):
            return self._exact(np.flatnonzero(mask), q, k)
        self._index_pending()
        ask = k
        if allowed is not None:
            selectivity = candidates / max(1, len(self._position))
            ask = min(len(self._position), math.ceil(k / selectivity * self.params.oversample) + k)
        while True:
            positions, values = self._ann.search(q, ask, max(self.params.expansion_search, 2 * ask))
            if allowed is not None:
                passed = mask[positions]
                positions, values = positions[passed], values[passed]
            if len(positions) >= min(k, candidates) or ask >= len(self._position):
                break
            if 2 * ask > len(self._position) // 2:
                return self._exact(np.flatnonzero(mask), q, k)
            ask *= 2
        return self._found(positions[:k], values[:k])

    def _found(self, positions: np.ndarray[Any, Any], values: np.ndarray[Any, Any]) -> list[tuple[Point, float]]:
        """The index's answer as points and scores: similarity for cosine and dot, distance for l2."""
        points = self._points
        if self.metric == "l2":
            return [
                (points[p], math.sqrt(max(v, 0.0))) for p, v in zip(positions.tolist(), values.tolist(), strict=True)
            ]
        return [(points[p], v) for p, v in zip(positions.tolist(), values.tolist(), strict=True)]

    def _stored(self, query: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.float32]]:
        q = np.asarray(query, dtype=np.float32)
        if self.metric == "cosine":
            norm = math.sqrt(float(q @ q))
            return q / norm if norm else q
        return q

    def _exact(
        self, candidates: np.ndarray[Any, Any], q: np.ndarray[Any, np.dtype[np.float32]], k: int
    ) -> list[tuple[Point, float]]:
        rows = self._matrix[candidates]
        if self.metric == "l2":
            distances = np.sqrt(np.maximum(((rows - q) ** 2).sum(axis=1), 0.0))
            order = np.argsort(distances, kind="stable")[:k]
            return [(self._points[candidates[i]], float(distances[i])) for i in order]
        scores = rows @ q
        if len(scores) > k:
            top = np.argpartition(-scores, k - 1)[:k]
            order = top[np.argsort(-scores[top], kind="stable")]
        else:
            order = np.argsort(-scores, kind="stable")
        return [(self._points[candidates[i]], float(scores[i])) for i in order]

    @property
    def index_bytes(self) -> int:
        return self._ann.memory_bytes if self._ann is not None else 0

    def mask(self, compiled: Filter) -> np.ndarray[Any, Any]:
        """A boolean mask over positions of the points whose metadata satisfies ``compiled`` (free positions may be
        either: the caller masks them with the live ones)."""
        mask: np.ndarray[Any, Any] = compiled.mask(self._columns)
        return mask

    @property
    def live_mask(self) -> np.ndarray[Any, Any]:
        return self._alive[: len(self._points)]
