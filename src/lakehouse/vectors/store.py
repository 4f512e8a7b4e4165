"""``VectorStore``: collections of points (string id, vector, metadata, text) with filtered nearest-neighbour search.

Where things live (docs/architecture.md): a collection's name, dimension, metric and embedder are a row of the
operational DB (``collections``); its points are rows of the lake table ``vectors.<name>`` (id, vector FLOAT[],
metadata JSON, text), so ``/v1/sql`` reads them like any table. Every upsert or delete is one lake commit through
``Lake.write``: acknowledged means committed. What a process searches is derived from the lake: an in-memory
``CollectionState`` that, before each read, catches up from the snapshot it reflects to the newest one through
DuckLake's change feed (or reloads when the feed cannot reach back), so a point acknowledged by any process on the
same lake is found by the next search anywhere.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import sqlalchemy as sa

from lakehouse.config import Settings
from lakehouse.embed import Embeddings
from lakehouse.errors import (
    CollectionExists,
    CollectionNotFound,
    ErrorItem,
    PointNotFound,
    RequestValidationFailed,
)
from lakehouse.filters.language import compile_filter
from lakehouse.opsdb.schema import collections
from lakehouse.tables.lake import CATALOG, Lake, LatestSnapshot, transaction
from lakehouse.tables.names import VECTORS_NAMESPACE, quote, validate_identifier
from lakehouse.vectors.model import MAX_DIM, METRICS, Collection, CollectionInfo, DeletedPoints, IndexState, Upserted
from lakehouse.vectors.points import check_arrow, check_json, numbers
from lakehouse.vectors.state import AnnParams, CollectionState, Point


def _table(name: str) -> str:
    return f"{CATALOG}.{quote(VECTORS_NAMESPACE)}.{quote(name)}"


class VectorStore:
    """Thread-safe. ``lake`` is called for the lake when first needed (it attaches DuckDB)."""

    def __init__(self, settings: Settings, opsdb: sa.Engine, lake: Any, embeddings: Embeddings) -> None:
        self.settings = settings
        self._opsdb = opsdb
        self._lake_of = lake
        self._embeddings = embeddings
        self._latest = LatestSnapshot(settings)
        self._states: dict[str, CollectionState] = {}
        self._known: dict[str, Collection] = {}  # uid -> collection, for saving indexes on close
        # name -> (collection, the lake snapshot it was looked up at): good while the lake stays there, since a
        # collection is made and dropped together with its lake table
        self._by_name: dict[str, tuple[Collection, int]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def _lake(self) -> Lake:
        lake: Lake = self._lake_of()
        return lake

    # -- collections ---------------------------------------------------------------------------------------------

    def create(self, name: str, dim: int, metric: str = "cosine", embedder: str | None = None) -> Collection:
        validate_identifier(name, "name")
        problems = []
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIM:
            problems.append(ErrorItem(kind="validation_failed", field="dim", reason=f"dim is 1-{MAX_DIM}"))
        if metric not in METRICS:
            problems.append(
                ErrorItem(kind="validation_failed", field="metric", reason=f"metric is one of {', '.join(METRICS)}")
            )
        if problems:
            raise RequestValidationFailed("the collection cannot be made as asked", errors=problems)
        if embedder is not None:
            self._embeddings.embedder(embedder)  # UnknownModel when no such model is served here
        record = Collection(
            name=name, uid=uuid.uuid4().hex, dim=dim, metric=metric, embedder=embedder, created_at=datetime.now(UTC)
        )
        if self._find(name) is not None:
            raise CollectionExists(f"collection {name} exists", field="name")
        lake = self._lake
        with lake.cursor() as cur, lake.write(cur):
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{quote(VECTORS_NAMESPACE)}")
            cur.execute(f"DROP TABLE IF EXISTS {_table(name)}")  # left by a create whose opsdb row failed
            cur.execute(f"CREATE TABLE {_table(name)} (id VARCHAR, vector FLOAT[], metadata JSON, text VARCHAR)")
        try:
            with self._opsdb.begin() as conn:
                conn.execute(
                    collections.insert().values(
                        name=name,
                        uid=record.uid,
                        dim=dim,
                        metric=metric,
                        embedder=embedder,
                        created_at=record.created_at,
                    )
                )
        except sa.exc.IntegrityError as exc:  # another process made it first: its table stands, ours was it
            raise CollectionExists(f"collection {name} exists", field="name") from exc
        return record

    def _find(self, name: str) -> Collection | None:
        with self._opsdb.connect() as conn:
            row = conn.execute(sa.select(collections).where(collections.c.name == name)).first()
        if row is None:
            return None
        created = row.created_at
        return Collection(
            name=row.name, uid=row.uid, dim=row.dim, metric=row.metric, embedder=row.embedder, created_at=created
        )

    def get(self, name: str) -> Collection:
        validate_identifier(name, "name")
        found = self._find(name)
        if found is None:
            raise CollectionNotFound(f"no collection {name}", field="name")
        return found

    def _current(self, name: str) -> tuple[Collection, int | None]:
        """``get(name)`` without asking the operational database again while the lake has not moved, and the lake's
        newest snapshot as seen before the look-up."""
        latest = self._latest()
        cached = self._by_name.get(name)
        if cached is not None and latest is not None and cached[1] == latest:
            return cached[0], latest
        collection = self.get(name)
        if latest is not None:
            with self._lock:
                self._by_name[name] = (collection, latest)
        return collection, latest

    def list_collections(self, limit: int = 100, after: str | None = None) -> list[Collection]:
        query = sa.select(collections).order_by(collections.c.name).limit(limit)
        if after is not None:
            query = query.where(collections.c.name > after)
        with self._opsdb.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Collection(name=r.name, uid=r.uid, dim=r.dim, metric=r.metric, embedder=r.embedder, created_at=r.created_at)
            for r in rows
        ]

    def describe(self, name: str) -> CollectionInfo:
        """The collection with its point count, the snapshot this process reflects and the memory it takes."""
        collection = self.get(name)
        with self._locked(collection) as state:
            return CollectionInfo(
                **dict(collection),
                count=len(state),
                index=IndexState(
                    kind=state.index_kind,
                    snapshot_id=state.snapshot,
                    saved_snapshot_id=state.saved_snapshot if state.saved_snapshot >= 0 else None,
                ),
                memory_bytes=state.memory_bytes + state.index_bytes,
            )

    def delete(self, name: str) -> Collection:
        collection = self.get(name)
        with self._opsdb.begin() as conn:
            conn.execute(collections.delete().where(collections.c.uid == collection.uid))
        lake = self._lake
        with lake.cursor() as cur, lake.write(cur):
            cur.execute(f"DROP TABLE IF EXISTS {_table(name)}")
        with self._lock:
            self._by_name.pop(name, None)
            self._states.pop(collection.uid, None)
            self._locks.pop(collection.uid, None)
            self._known.pop(collection.uid, None)
        shutil.rmtree(self._index_dir(collection), ignore_errors=True)
        return collection

    # -- the in-memory state ---------------------------------------------------------------------------------------

    def _locked(self, collection: Collection, latest: int | None = None) -> _Locked:
        """``latest``: the lake's newest snapshot when the caller has just read it (else it is read here)."""
        with self._lock:
            self._known[collection.uid] = collection
            lock = self._locks.setdefault(collection.uid, threading.Lock())
        return _Locked(self, collection, lock, latest)

    def _state(self, collection: Collection, latest: int | None = None) -> CollectionState:
        """Called with the collection's lock held: its state, caught up with the newest lake snapshot (``latest``
        when given, read after every write the caller must see)."""
        with self._lock:
            state = self._states.get(collection.uid)
            if state is None:
                v = self.settings.vectors
                params = AnnParams(
                    min_points=v.ann_min_points,
                    exact_limit=v.exact_limit,
                    oversample=v.oversample,
                    connectivity=v.hnsw_connectivity,
                    expansion_add=v.hnsw_expansion_add,
                    expansion_search=v.hnsw_expansion_search,
                    rebuild_dead=v.hnsw_rebuild_dead,
                )
                state = self._states[collection.uid] = CollectionState(
                    collection.uid, collection.dim, collection.metric, params
                )
        if latest is None or latest != state.snapshot:
            latest = self._latest()
        if latest is not None and latest == state.snapshot:
            return state
        lake = self._lake
        directory = self._index_dir(collection)
        with lake.cursor() as cur:
            now = self._now(cur)
            if now == state.snapshot:
                return state
            if state.snapshot < 0:
                self._restore(cur, collection, state, directory, now)
            if 0 <= state.snapshot < now and not self._catch_up(cur, collection, state, now):
                self._load(cur, collection, state)
        if state.index_kind == "hnsw" and (
            state.saved_snapshot < 0 or state.changes_since_save >= self.settings.vectors.index_save_changes
        ):
            state.save(directory)
        return state

    @staticmethod
    def _now(cur: duckdb.DuckDBPyConnection) -> int:
        row = cur.execute(f"SELECT id FROM {CATALOG}.current_snapshot()").fetchone()  # noqa: S608 (constant)
        assert row is not None
        return int(row[0])

    def _index_dir(self, collection: Collection) -> Path:
        return self.settings.in_data_dir(self.settings.vectors.index_path) / collection.uid

    def _restore(
        self, cur: duckdb.DuckDBPyConnection, collection: Collection, state: CollectionState, directory: Path, now: int
    ) -> None:
        """A first read: from the saved index and the rows at its snapshot (then the changes since), or whole."""
        saved = CollectionState.saved(directory)
        if saved is not None and int(saved["snapshot"]) <= now:
            at = int(saved["snapshot"])
            try:
                table = cur.execute(
                    f"SELECT id, vector, metadata, text FROM {_table(collection.name)} AT (VERSION => {at})"  # noqa: S608
                ).to_arrow_table()
            except duckdb.Error:  # that snapshot was expired: build anew
                table = None
            if table is not None and state.restore(table, saved, directory):
                return
        self._load(cur, collection, state)

    @staticmethod
    def _load(cur: duckdb.DuckDBPyConnection, collection: Collection, state: CollectionState) -> None:
        with transaction(cur):
            now = VectorStore._now(cur)
            table = cur.execute(
                f"SELECT id, vector, metadata, text FROM {_table(collection.name)}"  # noqa: S608
            ).to_arrow_table()
            state.load(table, now)

    @staticmethod
    def _catch_up(cur: duckdb.DuckDBPyConnection, collection: Collection, state: CollectionState, now: int) -> bool:
        """Replay the change feed from the state's snapshot to ``now``; False when the feed cannot reach back."""
        try:
            changes = cur.execute(
                "SELECT snapshot_id, change_type, id, vector, metadata, text "
                "FROM ducklake_table_changes(?, ?, ?, ?, ?) ORDER BY snapshot_id, rowid",
                [CATALOG, VECTORS_NAMESPACE, collection.name, state.snapshot + 1, now],
            ).fetchall()
        except duckdb.Error:
            return False
        state.apply(changes, now)
        return True

    # -- points --------------------------------------------------------------------------------------------------

    def upsert(self, name: str, points: Sequence[Any]) -> Upserted:
        """Insert or replace ``points`` (``{"id", "vector"? | "text"?, "metadata"?}``) as one lake commit. A point
        with text and no vector is embedded by the collection's embedder. The whole batch is checked first: any bad
        point refuses all (422 ``invalid_point``, one item per problem, with the point's index)."""
        collection = self.get(name)
        ids, vectors, metadata, texts = check_json(
            collection, points, self.settings.vectors.max_batch, self._embeddings.embed
        )
        return self._commit(collection, ids, np.stack(vectors), metadata, texts)

    def upsert_arrow(self, name: str, table: Any) -> Upserted:
        """``upsert`` for a pyarrow Table with the columns ``id`` (strings), ``vector`` (lists of numbers) and,
        optionally, ``metadata`` (JSON objects as strings) and ``text``: checked column by column, then one commit.
        No text is embedded here: every row carries its vector."""
        collection = self.get(name)
        ids, matrix, metadata, texts = check_arrow(collection, table, self.settings.vectors.max_batch)
        return self._commit(collection, ids, matrix, metadata, texts)

    def _commit(
        self,
        collection: Collection,
        ids: list[str],
        matrix: np.ndarray[Any, Any],
        metadata: list[str | None],
        texts: list[str | None],
    ) -> Upserted:
        """One lake commit: the batch's ids deleted, its rows inserted."""
        import pyarrow as pa

        rows = np.ascontiguousarray(matrix, dtype=np.float32)
        offsets = np.arange(0, rows.size + 1, collection.dim, dtype=np.int32)
        batch = pa.table(
            {
                "id": pa.array(ids, pa.string()),
                "vector": pa.ListArray.from_arrays(pa.array(offsets), pa.array(rows.ravel())),
                "metadata": pa.array(metadata, pa.string()),
                "text": pa.array(texts, pa.string()),
            }
        )
        lake = self._lake
        with lake.cursor() as cur:
            cur.register("lakehouse_points", batch)
            with lake.write(cur):
                table = _table(collection.name)
                cur.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM lakehouse_points)")  # noqa: S608
                cur.execute(f"INSERT INTO {table} SELECT id, vector, metadata::JSON, text FROM lakehouse_points")  # noqa: S608
            cur.unregister("lakehouse_points")
        return Upserted(upserted=len(ids), snapshot_id=lake.current_snapshot())

    def get_point(self, name: str, point_id: str) -> Point:
        collection = self.get(name)
        with self._locked(collection) as state:
            point = state.get(point_id)
        if point is None:
            raise PointNotFound(f"no point {point_id!r} in {name}", field="id")
        return point

    def delete_points(self, name: str, ids: Sequence[str] | None = None, filter: Any = None) -> DeletedPoints:
        """Delete the points named by ``ids``, or those whose metadata matches ``filter`` (as the collection is when
        the request is made), as one lake commit."""
        collection = self.get(name)
        if (ids is None) == (filter is None):
            raise RequestValidationFailed("give ids or filter (one of them)", field="ids")
        if ids is not None:
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise RequestValidationFailed("ids is a list of strings", field="ids")
            targets = sorted(set(ids))
        else:
            compiled = compile_filter(filter)
            with self._locked(collection) as state:
                targets = sorted(p.id for p in state.matching(compiled))
        lake = self._lake
        deleted = 0
        if targets:
            import pyarrow as pa

            with lake.cursor() as cur:
                cur.register("lakehouse_ids", pa.table({"id": pa.array(targets, pa.string())}))
                with lake.write(cur):
                    row = cur.execute(
                        f"DELETE FROM {_table(collection.name)} WHERE id IN (SELECT id FROM lakehouse_ids)"  # noqa: S608
                    ).fetchone()
                    deleted = int(row[0]) if row else 0
                cur.unregister("lakehouse_ids")
        return DeletedPoints(deleted=deleted, snapshot_id=lake.current_snapshot())

    # -- search --------------------------------------------------------------------------------------------------

    def search(
        self,
        name: str,
        *,
        vector: Sequence[float] | None = None,
        text: str | None = None,
        k: int = 10,
        filter: Any = None,
    ) -> list[tuple[Point, float]]:
        """The ``k`` points nearest to ``vector`` (or to ``text``, embedded by the collection's embedder) among
        those whose metadata matches ``filter``, best first, with their score."""
        collection, latest = self._current(name)
        self._check_k(k)
        query = self._query_vector(collection, vector, text)
        if filter is None and latest is not None:  # the common case: a current state, no filter
            state, lock = self._states.get(collection.uid), self._locks.get(collection.uid)
            if state is not None and lock is not None and state.snapshot == latest:
                with lock:
                    if state.snapshot == latest:
                        return state.search(query, k, None)
        compiled = compile_filter(filter) if filter is not None else None
        with self._locked(collection, latest) as state:
            allowed = state.mask(compiled) if compiled is not None else None
            return state.search(query, k, allowed)

    def search_now(self, name: str, *, vector: Sequence[float], k: int = 10) -> list[tuple[Point, float]] | None:
        """``search`` for a query vector with no filter, answered only when it needs no waiting: the collection was
        looked up at the lake's newest snapshot (as the writers' change token tells it, without asking the catalog),
        its state reflects that snapshot and no other thread holds it. None otherwise (the caller then calls
        ``search``, from a worker thread). The server answers most searches this way, on its event loop."""
        latest = self._latest.known()
        cached = self._by_name.get(name)
        if latest is None or cached is None or cached[1] != latest:
            return None
        collection = cached[0]
        state, lock = self._states.get(collection.uid), self._locks.get(collection.uid)
        if state is None or lock is None or state.snapshot != latest or not lock.acquire(blocking=False):
            return None
        try:
            if state.snapshot != latest:
                return None
            self._check_k(k)
            return state.search(self._query_vector(collection, vector, None), k, None)
        finally:
            lock.release()

    def _check_k(self, k: int) -> None:
        max_k = self.settings.vectors.max_k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
            raise RequestValidationFailed(f"k is 1-{max_k}", field="k")

    def _query_vector(
        self, collection: Collection, vector: Sequence[float] | None, text: str | None
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        if (vector is None) == (text is None):
            raise RequestValidationFailed("give vector or text (one of them)", field="vector")
        if vector is not None:
            row = numbers(vector)
            if row is None or not np.isfinite(row).all():
                raise RequestValidationFailed("vector is a list of finite numbers", field="vector")
            if len(row) != collection.dim:
                raise RequestValidationFailed(
                    f"vector has {len(row)} dimensions; the collection has {collection.dim}", field="vector"
                )
            return row.astype(np.float32, copy=False)
        if not isinstance(text, str) or not text.strip():
            raise RequestValidationFailed("text is a non-empty string", field="text")
        embedded = self._embeddings.embed([text], collection.embedder)
        if embedded.dim != collection.dim:
            raise RequestValidationFailed(
                f"the embedder {embedded.model} gives {embedded.dim} dimensions; the collection has {collection.dim}",
                field="text",
            )
        query: np.ndarray[Any, np.dtype[np.float32]] = embedded.vectors[0]
        return query

    def close(self) -> None:
        """Save each HNSW index whose state moved since its last save (a restart then loads it instead of building
        it), and let go of the catalog check."""
        with self._lock:
            states = list(self._states.values())
            names = {c.uid: c for c in self._known.values()}
        for state in states:
            collection = names.get(state.uid)
            if collection is not None and state.index_kind == "hnsw" and state.saved_snapshot != state.snapshot:
                with contextlib.suppress(OSError, RuntimeError):
                    state.save(self._index_dir(collection))
        self._latest.close()


class _Locked:
    """``with store._locked(collection) as state``: the collection's state, caught up, under its lock."""

    def __init__(self, store: VectorStore, collection: Collection, lock: threading.Lock, latest: int | None) -> None:
        self._store = store
        self._collection = collection
        self._lock = lock
        self._latest = latest

    def __enter__(self) -> CollectionState:
        self._lock.acquire()
        try:
            return self._store._state(self._collection, self._latest)
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        self._lock.release()
