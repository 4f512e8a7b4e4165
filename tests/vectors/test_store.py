"""lakehouse.vectors on SQLite and PostgreSQL catalogs: collections, atomic upserts and deletes, exact filtered
search checked against brute force, text points, other processes' writes, restarts, SQL over the points."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import (
    BatchTooLarge,
    CollectionExists,
    CollectionNotFound,
    EmptyBatch,
    InvalidFilter,
    InvalidName,
    InvalidPoint,
    PointNotFound,
    RequestValidationFailed,
    UnknownModel,
)
from lakehouse.filters import compile_filter


def _open(data_dir: Path, pg_url: str | None, **sections: Any) -> Lakehouse:
    values: dict[str, Any] = {"data_dir": data_dir, "embed": {"hashing_dim": 16}, **sections}
    if pg_url:
        values["lake"] = {
            "catalog": "postgres",
            "catalog_dsn": pg_url.replace("postgresql+psycopg://", "postgresql://"),
        }
    return Lakehouse(Settings.model_validate(values))


@pytest.fixture
def lh(catalog: str | None, tmp_path: Path) -> Iterator[Lakehouse]:
    with _open(tmp_path / "data", catalog) as lakehouse:
        yield lakehouse


def _points(n: int, dim: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "id": f"p{i}",
            "vector": rng.normal(size=dim).round(4).tolist(),
            "metadata": {"group": i % 5, "lang": "en" if i % 2 else "de", "tags": [f"t{i % 3}"]},
        }
        for i in range(n)
    ]


def _brute_force(points: list[dict[str, Any]], query: list[float], metric: str, k: int, spec: Any) -> list[str]:
    keep = compile_filter(spec) if spec is not None else (lambda m: True)
    chosen = [p for p in points if keep(p["metadata"])]
    q = np.asarray(query, dtype=np.float32)
    scored = []
    for p in chosen:
        v = np.asarray(p["vector"], dtype=np.float32)
        if metric == "cosine":
            scored.append((-float(v @ q / (np.linalg.norm(v) * np.linalg.norm(q))), p["id"]))
        elif metric == "dot":
            scored.append((-float(v @ q), p["id"]))
        else:
            scored.append((float(np.linalg.norm(v - q)), p["id"]))
    return [pid for _, pid in sorted(scored)[:k]]


def test_collections_lifecycle(lh: Lakehouse) -> None:
    created = lh.vectors.create("docs", 8, "dot")
    assert (created.name, created.dim, created.metric) == ("docs", 8, "dot")
    lh.vectors.create("notes", 4)
    assert [c.name for c in lh.vectors.list_collections()] == ["docs", "notes"]
    assert [c.name for c in lh.vectors.list_collections(after="docs")] == ["notes"]
    described = lh.vectors.describe("docs")
    assert described.count == 0 and described.index.kind == "exact" and described.metric == "dot"
    with pytest.raises(CollectionExists):
        lh.vectors.create("docs", 8)
    with pytest.raises(InvalidName):
        lh.vectors.create("Bad Name", 8)
    with pytest.raises(RequestValidationFailed) as raised:
        lh.vectors.create("x", 0, "manhattan")
    assert [e.field for e in raised.value.errors] == ["dim", "metric"]
    with pytest.raises(UnknownModel):
        lh.vectors.create("x", 8, embedder="nope")
    lh.vectors.delete("docs")
    with pytest.raises(CollectionNotFound):
        lh.vectors.describe("docs")
    assert "docs" not in {n for _, n in lh.datasets.list()}  # collections are not datasets


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_search_is_exact_with_and_without_filters(lh: Lakehouse, metric: str) -> None:
    points = _points(300, 12)
    lh.vectors.create("docs", 12, metric)
    assert lh.vectors.upsert("docs", points[:150]).upserted == 150
    lh.vectors.upsert("docs", points[150:])
    rng = np.random.default_rng(7)
    for spec in [None, {"lang": "en"}, {"group": {"in": [1, 3]}}, {"and": [{"group": 4}, {"lang": "de"}]}]:
        query = rng.normal(size=12).tolist()
        found = lh.vectors.search("docs", vector=query, k=10, filter=spec)
        assert [p.id for p, _ in found] == _brute_force(points, query, metric, 10, spec)
        scores = [s for _, s in found]
        assert scores == sorted(scores, reverse=metric != "l2")
    assert lh.vectors.search("docs", vector=[0.0] * 12, k=5, filter={"group": 99}) == []


def test_updates_move_points_and_deletes_never_come_back(lh: Lakehouse) -> None:
    lh.vectors.create("docs", 3)
    lh.vectors.upsert(
        "docs",
        [
            {"id": "a", "vector": [1, 0, 0], "metadata": {"k": 1}},
            {"id": "b", "vector": [0, 1, 0], "metadata": {"k": 2}},
            {"id": "c", "vector": [0, 0, 1], "metadata": {"k": 3}, "text": "see"},
        ],
    )
    lh.vectors.upsert("docs", [{"id": "a", "vector": [0, 0.9, 0.1], "metadata": {"k": 9}}])
    top = lh.vectors.search("docs", vector=[0, 1, 0], k=2)
    assert [p.id for p, _ in top] == ["b", "a"] and top[1][0].metadata == {"k": 9}
    assert lh.vectors.search("docs", vector=[1, 0, 0], k=1)[0][0].id != "a"
    assert lh.vectors.delete_points("docs", ids=["b", "nope"]).deleted == 1
    assert lh.vectors.delete_points("docs", filter={"k": {"gte": 9}}).deleted == 1
    assert [p.id for p, _ in lh.vectors.search("docs", vector=[0, 1, 0], k=10)] == ["c"]
    with pytest.raises(PointNotFound):
        lh.vectors.get_point("docs", "a")
    assert lh.vectors.get_point("docs", "c").text == "see"
    assert lh.vectors.describe("docs").count == 1
    with pytest.raises(RequestValidationFailed):
        lh.vectors.delete_points("docs")
    with pytest.raises(InvalidFilter):
        lh.vectors.delete_points("docs", filter={"k": {"near": 1}})


@pytest.mark.parametrize(
    ("points", "fields"),
    [
        ([{"id": "x", "vector": [1, 2]}], ["points[0].vector"]),
        ([{"id": "x", "vector": [1, float("nan"), 3]}], ["points[0].vector"]),
        ([{"id": "x", "vector": [1, float("inf"), 3]}], ["points[0].vector"]),
        ([{"id": "x", "vector": [1, "2", 3]}], ["points[0].vector"]),
        ([{"id": "x", "vector": [1, 2, 3], "metadata": [1]}], ["points[0].metadata"]),
        ([{"id": "", "vector": [1, 2, 3]}], ["points[0].id"]),
        ([{"id": "x"}], ["points[0].vector"]),
        ([{"id": "a", "vector": [1, 2, 3]}, {"id": "a", "vector": [1, 2, 3]}], ["points[1].id"]),
        (
            [{"id": "ok", "vector": [1, 2, 3]}, "x", {"id": 5, "vector": [1, 2, 3], "colour": 1}],
            ["points[1]", "points[2].colour", "points[2].id"],
        ),
    ],
)
def test_a_bad_point_refuses_the_whole_batch(lh: Lakehouse, points: list[Any], fields: list[str]) -> None:
    lh.vectors.create("docs", 3)
    lh.vectors.upsert("docs", [{"id": "keep", "vector": [1, 1, 1]}])
    before = lh.lake.current_snapshot()
    with pytest.raises(InvalidPoint) as raised:
        lh.vectors.upsert("docs", points)
    assert [e.field for e in raised.value.errors] == fields
    assert lh.lake.current_snapshot() == before and lh.vectors.describe("docs").count == 1


def test_batch_limits(lh: Lakehouse, tmp_path: Path) -> None:
    lh.vectors.create("docs", 2)
    with pytest.raises(EmptyBatch):
        lh.vectors.upsert("docs", [])
    with _open(tmp_path / "small", None, vectors={"max_batch": 2}) as small:
        small.vectors.create("docs", 2)
        with pytest.raises(BatchTooLarge):
            small.vectors.upsert("docs", [{"id": str(i), "vector": [1, 2]} for i in range(3)])
    for k in (0, 100_000):
        with pytest.raises(RequestValidationFailed, match="k is"):
            lh.vectors.search("docs", vector=[1, 2], k=k)
    with pytest.raises(RequestValidationFailed, match="vector has 3"):
        lh.vectors.search("docs", vector=[1, 2, 3])


def test_texts_are_embedded_by_the_collection_embedder(lh: Lakehouse) -> None:
    lh.vectors.create("notes", 16, embedder="hashing-16")
    lh.vectors.upsert(
        "notes",
        [
            {"id": "1", "text": "red apples and green pears"},
            {"id": "2", "text": "stock markets fell sharply"},
            {"id": "3", "vector": [0.0] * 15 + [1.0], "text": "given its own vector"},
        ],
    )
    assert lh.vectors.search("notes", text="green pears", k=1)[0][0].id == "1"
    assert lh.vectors.get_point("notes", "1").text == "red apples and green pears"
    lh.vectors.create("wide", 8, embedder="hashing-16")
    with pytest.raises(InvalidPoint, match="does not fit"):
        lh.vectors.upsert("wide", [{"id": "1", "text": "sixteen dimensions into eight"}])


def test_another_process_on_the_lake_sees_writes_and_deletes(catalog: str | None, tmp_path: Path) -> None:
    """Two lakehouses on one data dir (each with its own in-memory state, as two processes have): B finds what A
    acknowledged, and stops finding what A deleted, with no refresh."""
    with _open(tmp_path / "data", catalog) as a, _open(tmp_path / "data", catalog) as b:
        a.vectors.create("docs", 2)
        a.vectors.upsert("docs", [{"id": "x", "vector": [1, 0]}])
        assert [p.id for p, _ in b.vectors.search("docs", vector=[1, 0], k=5)] == ["x"]
        for i in range(20):
            a.vectors.upsert("docs", [{"id": f"n{i}", "vector": [0, 1 + i]}])
            assert b.vectors.get_point("docs", f"n{i}").vector.tolist() == [0.0, float(1 + i)]
        a.vectors.delete_points("docs", ids=["x"])
        assert "x" not in {p.id for p, _ in b.vectors.search("docs", vector=[1, 0], k=50)}
        b.vectors.delete("docs")
        with pytest.raises(CollectionNotFound):
            a.vectors.search("docs", vector=[1, 0])


def test_search_now_answers_only_a_current_state_and_agrees_with_search(catalog: str | None, tmp_path: Path) -> None:
    """The server's no-waiting path: it gives up (None) whenever the lake moved since this process looked, and
    otherwise gives exactly what ``search`` gives; a write by another process is never missed."""
    with _open(tmp_path / "data", catalog) as a, _open(tmp_path / "data", catalog) as b:
        a.vectors.create("docs", 8)
        points = _points(50, 8)
        a.vectors.upsert("docs", points)
        query = points[3]["vector"]
        assert b.vectors.search_now("docs", vector=query, k=5) is None  # never looked
        expected = b.vectors.search("docs", vector=query, k=5)
        now = b.vectors.search_now("docs", vector=query, k=5)
        if catalog is None:
            assert now is not None and [(p.id, s) for p, s in now] == [(p.id, s) for p, s in expected]
        else:
            assert now is None  # PostgreSQL: only the catalog can tell whether the lake moved
        a.vectors.upsert("docs", [{"id": "new", "vector": query}])
        assert b.vectors.search_now("docs", vector=query, k=5) is None
        assert b.vectors.search("docs", vector=query, k=1)[0][0].id in ("new", "p3")
        if catalog is None:  # caught up: answered again, and a bad k is refused as search refuses it
            again = b.vectors.search_now("docs", vector=query, k=2)
            assert again is not None and {p.id for p, _ in again} == {"new", "p3"}
            with pytest.raises(RequestValidationFailed):
                b.vectors.search_now("docs", vector=query, k=0)


def test_points_survive_a_restart_and_are_a_lake_table(catalog: str | None, tmp_path: Path) -> None:
    with _open(tmp_path / "data", catalog) as lh:
        lh.vectors.create("docs", 2)
        lh.vectors.upsert("docs", [{"id": "a", "vector": [1, 0], "metadata": {"lang": "en"}}])
    with _open(tmp_path / "data", catalog) as lh:
        assert [p.id for p, _ in lh.vectors.search("docs", vector=[1, 0])] == ["a"]
        lh.ingest("langs", b"lang,name\nen,English\n", format="csv", create=True)
        joined = lh.sql("SELECT v.id, l.name FROM vectors.docs v JOIN langs l ON l.lang = (v.metadata->>'lang')").rows
        assert joined == [["a", "English"]]


def test_a_restart_loads_the_saved_index_and_replays_only_the_changes_since(tmp_path: Path) -> None:
    data = tmp_path / "data"
    small = {"vectors": {"ann_min_points": 50}}
    points = _points(300, 8)
    with _open(data, None, **small) as lh:
        lh.vectors.create("docs", 8)
        lh.vectors.upsert("docs", points[:200])
        lh.vectors.search("docs", vector=points[0]["vector"], k=1)  # builds the index, and saves it
        index = lh.vectors.describe("docs").index
        assert index.kind == "hnsw" and index.saved_snapshot_id == index.snapshot_id
        saved_at = index.snapshot_id
    with _open(data, None) as writer:  # writes the saved index does not hold (no index here: below the default)
        writer.vectors.upsert("docs", points[200:])
        writer.vectors.delete_points("docs", ids=["p0", "p1"])
        writer.vectors.upsert("docs", [{"id": "p2", "vector": points[299]["vector"], "metadata": {"moved": True}}])
    with _open(data, None, **small) as lh:
        found = lh.vectors.search("docs", vector=points[250]["vector"], k=1)
        index = lh.vectors.describe("docs").index
        assert index.kind == "hnsw" and index.saved_snapshot_id == saved_at < index.snapshot_id
        assert found[0][0].id == "p250"
        assert {"p0", "p1"}.isdisjoint(p.id for p, _ in lh.vectors.search("docs", vector=points[0]["vector"], k=20))
        assert lh.vectors.search("docs", vector=points[299]["vector"], k=2, filter={"moved": True})[0][0].id == "p2"
        assert lh.vectors.describe("docs").count == 298


def test_a_damaged_saved_index_is_rebuilt_from_the_lake(tmp_path: Path) -> None:
    data = tmp_path / "data"
    small = {"vectors": {"ann_min_points": 50}}
    points = _points(120, 8)
    with _open(data, None, **small) as lh:
        uid = lh.vectors.create("docs", 8).uid
        lh.vectors.upsert("docs", points)
        lh.vectors.search("docs", vector=points[0]["vector"], k=1)
    saved = data / "vectors" / uid
    current = (saved / "current.json").read_text()
    ids_file = next(saved.glob("ids-*.json"))
    ids_file.write_text('["p0", null]')  # the ids no longer match the rows
    with _open(data, None, **small) as lh:
        assert lh.vectors.search("docs", vector=points[7]["vector"], k=1)[0][0].id == "p7"
        assert (saved / "current.json").read_text() != current  # rebuilt, and saved again
    with _open(data, None, **small) as lh:
        lh.vectors.delete("docs")
    assert not saved.exists()
