"""``HnswIndex``: a collection's approximate-nearest-neighbour index, FAISS ``IndexHNSWFlat`` over the positions of
its ``CollectionState``.

FAISS numbers vectors in the order they are added (slots) and cannot take one out of an HNSW graph. A point that is
replaced or deleted leaves its slot dead: ``slot_position`` maps each slot to the point's position in the state, or
-1 once dead, and a search asks FAISS for enough extra neighbours to make up for the dead ones it drops. The state
rebuilds the index from its live rows when ``dead_fraction`` grows past ``AnnParams.rebuild_dead``.

Chosen by measurement over usearch (bench/RESULTS.md, "Vectors"): on the same graph parameters FAISS searched
2.5x faster and built 2x faster on this project's 384-dimension benchmark.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float32]]


class HnswIndex:
    """Not thread-safe for writes; the store holds the collection's lock around every call."""

    def __init__(self, dim: int, metric: str, connectivity: int, expansion_add: int) -> None:
        self.metric = metric
        faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        self._index = faiss.IndexHNSWFlat(dim, connectivity, faiss_metric)
        self._index.hnsw.efConstruction = expansion_add
        self.slot_position: IntArray = np.zeros(0, dtype=np.int64)
        self._position_slot: IntArray = np.zeros(0, dtype=np.int64)
        self.dead = 0
        self._breadth = -1  # the efSearch last set

    # -- writes ---------------------------------------------------------------------------------------------------

    def add(self, positions: IntArray, rows: FloatArray) -> None:
        """Index ``rows`` (already normalized for cosine) as the points at ``positions``; a position that had a
        slot leaves it dead."""
        if not len(positions):
            return
        self.remove(positions)
        first = int(self._index.ntotal)
        faiss.omp_set_num_threads(len(os.sched_getaffinity(0)) if len(positions) > 1 else 1)  # this thread only
        self._index.add(np.ascontiguousarray(rows, dtype=np.float32))
        self.slot_position = np.concatenate([self.slot_position, positions.astype(np.int64)])
        needed = int(positions.max()) + 1
        if needed > len(self._position_slot):
            grown = np.full(max(needed, 2 * len(self._position_slot)), -1, dtype=np.int64)
            grown[: len(self._position_slot)] = self._position_slot
            self._position_slot = grown
        self._position_slot[positions] = np.arange(first, first + len(positions), dtype=np.int64)

    def remove(self, positions: IntArray) -> None:
        """The slots of the points at ``positions`` become dead (positions without a slot are ignored)."""
        known = positions[positions < len(self._position_slot)]
        slots = self._position_slot[known]
        slots = slots[slots >= 0]
        if len(slots):
            self.slot_position[slots] = -1
            self._position_slot[known] = -1
            self.dead += len(slots)

    # -- reads ----------------------------------------------------------------------------------------------------

    @property
    def live(self) -> int:
        return int(self._index.ntotal) - self.dead

    @property
    def dead_fraction(self) -> float:
        total = int(self._index.ntotal)
        return self.dead / total if total else 0.0

    def positions(self) -> IntArray:
        """The positions of the live points, ascending."""
        return np.sort(self.slot_position[self.slot_position >= 0])

    def search(self, query: FloatArray, count: int, breadth: int) -> tuple[IntArray, np.ndarray[Any, Any]]:
        """Up to ``count`` live neighbours of ``query``, nearest first: their positions and FAISS's values (inner
        product, or squared distance for l2). ``breadth`` is HNSW's ``efSearch``, at least ``count``. One query
        runs on the calling thread (FAISS parallelizes over queries only)."""
        total = len(self.slot_position)  # FAISS's ntotal
        if not total or count <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ask = count if not self.dead else math.ceil(count * total / max(1, total - self.dead)) + 8
        ask = min(ask, total)
        breadth = max(breadth, ask)
        if breadth != self._breadth:
            self._index.hnsw.efSearch = self._breadth = breadth
        found_values, found_slots = self._index.search(query.reshape(1, -1), ask)
        values, slots = found_values[0], found_slots[0]
        if slots[-1] < 0:  # fewer found than asked: FAISS pads with -1
            found = slots >= 0
            slots, values = slots[found], values[found]
        positions = self.slot_position[slots]
        if self.dead:
            live = positions >= 0
            positions, values = positions[live][:count], values[live][:count]
        return positions, values

    @property
    def memory_bytes(self) -> int:
        """The index's own memory: its copy of the vectors, the graph's links and the slot maps."""
        index = self._index
        hnsw: Any = index.hnsw  # the graph's arrays are not in faiss's type hints
        graph = hnsw.neighbors.size() * 4 + hnsw.offsets.size() * 8 + hnsw.levels.size() * 4
        vectors = int(index.ntotal) * index.d * 4
        return int(graph + vectors + self.slot_position.nbytes + self._position_slot.nbytes)

    # -- files ----------------------------------------------------------------------------------------------------

    def save(self, index_path: Path, slots_path: Path) -> None:
        faiss.write_index(self._index, str(index_path))
        with slots_path.open("wb") as handle:
            np.save(handle, self.slot_position)

    @classmethod
    def load(cls, index_path: Path, slots_path: Path, dim: int, metric: str) -> HnswIndex:
        """A saved index; ``ValueError`` when the files do not make one of this dimension and metric."""
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError as exc:
            raise ValueError(f"unreadable index: {exc}") from exc
        slot_position = np.load(slots_path, allow_pickle=False)
        expected = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        if (
            not isinstance(index, faiss.IndexHNSWFlat)
            or index.d != dim
            or index.metric_type != expected
            or slot_position.dtype != np.int64
            or slot_position.shape != (int(index.ntotal),)
        ):
            raise ValueError("the saved index does not match the collection")
        made = cls.__new__(cls)
        made.metric = metric
        made._index = index
        made.slot_position = slot_position
        live = slot_position >= 0
        made.dead = int((~live).sum())
        made._breadth = -1
        size = int(slot_position.max()) + 1 if live.any() else 0
        made._position_slot = np.full(size, -1, dtype=np.int64)
        made._position_slot[slot_position[live]] = np.flatnonzero(live)
        return made
