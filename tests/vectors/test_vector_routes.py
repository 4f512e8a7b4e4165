"""/v1/collections over HTTP (in-process app, SQLite and PostgreSQL+S3 lakes): the round trip, batch search, and
refusals in the problem shape that change nothing."""

from __future__ import annotations

from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem


def test_round_trip(client: AppClient) -> None:
    created = client.post("/v1/collections", json={"name": "docs", "dim": 3, "metric": "cosine"})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "docs" and created.json()["dim"] == 3
    points = [
        {"id": "a", "vector": [1, 0, 0], "metadata": {"lang": "en"}, "text": "alpha"},
        {"id": "b", "vector": [0, 1, 0], "metadata": {"lang": "de"}},
        {"id": "c", "vector": [0.9, 0.1, 0], "metadata": {"lang": "de"}},
    ]
    upserted = client.post("/v1/collections/docs/upsert", json={"points": points})
    assert upserted.status_code == 200 and upserted.json()["upserted"] == 3
    search = client.post("/v1/collections/docs/search", json={"vector": [1, 0, 0], "k": 2, "include": ["text"]})
    results = search.json()["results"]
    assert [r["id"] for r in results] == ["a", "c"] and results[0]["text"] == "alpha" and "metadata" not in results[0]
    assert results[0]["score"] > results[1]["score"]
    filtered = client.post("/v1/collections/docs/search", json={"vector": [1, 0, 0], "filter": {"lang": "de"}})
    assert [r["id"] for r in filtered.json()["results"]] == ["c", "b"]
    assert filtered.json()["results"][0]["metadata"] == {"lang": "de"}
    batch = client.post(
        "/v1/collections/docs/search", json={"queries": [{"vector": [0, 1, 0], "k": 1}, {"vector": [1, 0, 0], "k": 1}]}
    )
    assert [b["results"][0]["id"] for b in batch.json()["batches"]] == ["b", "a"]
    point = client.get("/v1/collections/docs/points/a").json()
    assert point == {"id": "a", "metadata": {"lang": "en"}, "text": "alpha", "vector": [1.0, 0.0, 0.0]}
    described = client.get("/v1/collections/docs").json()
    assert described["count"] == 3 and described["index"]["snapshot_id"] == upserted.json()["snapshot_id"]
    assert client.post("/v1/collections/docs/delete", json={"filter": {"lang": "de"}}).json()["deleted"] == 2
    assert client.get("/v1/collections").json()["items"][0]["name"] == "docs"
    rows = client.post("/v1/sql", json={"sql": "SELECT id FROM vectors.docs"}).json()["rows"]
    assert rows == [["a"]]
    assert client.delete("/v1/collections/docs").json()["deleted"]["name"] == "docs"
    assert_problem(client.get("/v1/collections/docs"), 404, "collection_not_found")


def test_refusals_change_nothing(client: AppClient) -> None:
    client.post("/v1/collections", json={"name": "docs", "dim": 2})
    client.post("/v1/collections/docs/upsert", json={"points": [{"id": "a", "vector": [1, 0]}]})
    before = client.get("/v1/collections/docs").json()
    assert_problem(client.post("/v1/collections", json={"name": "docs", "dim": 2}), 409, "collection_exists")
    assert_problem(client.post("/v1/collections", json={"name": "Docs!", "dim": 2}), 400, "invalid_name")
    bad = client.post(
        "/v1/collections/docs/upsert",
        json={"points": [{"id": "b", "vector": [1, 0]}, {"id": "c", "vector": [1, 0, 0]}, {"id": "d", "metadata": 3}]},
    )
    body = assert_problem(bad, 422, "invalid_point")
    assert [e["field"] for e in body["errors"]] == ["points[1].vector", "points[2].metadata", "points[2].vector"]
    assert body["errors"][0]["pointer"] == "/points/1/vector"
    unknown = client.post("/v1/collections/docs/search", json={"vector": [1, 0], "filter": {"x": {"like": 1}}})
    assert assert_problem(unknown, 422, "invalid_filter")["errors"][0]["field"] == "filter.x.like"
    in_batch = client.post("/v1/collections/docs/search", json={"queries": [{"vector": [1, 0]}, {"vector": [1]}]})
    assert assert_problem(in_batch, 422)["errors"][0]["field"] == "queries[1].vector"
    assert_problem(client.get("/v1/collections/docs/points/zz"), 404, "point_not_found")
    assert_problem(client.post("/v1/collections/docs/delete", json={}), 422)
    after = client.get("/v1/collections/docs").json()
    assert after["count"] == before["count"] == 1 and after["index"] == before["index"]


def test_arrow_upsert(client: AppClient) -> None:
    import io

    import pyarrow as pa
    import pyarrow.ipc

    def arrow(table: pa.Table) -> bytes:
        sink = io.BytesIO()
        with pyarrow.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue()

    headers = {"content-type": "application/vnd.apache.arrow.stream"}
    client.post("/v1/collections", json={"name": "docs", "dim": 2})
    good = pa.table(
        {
            "id": ["a", "b"],
            "vector": pa.array([[1.0, 0.0], [0.0, 1.0]], pa.list_(pa.float32())),
            "metadata": ['{"lang": "en"}', None],
            "text": ["alpha", None],
        }
    )
    answer = client.post("/v1/collections/docs/upsert", content=arrow(good), headers=headers)
    assert answer.status_code == 200 and answer.json()["upserted"] == 2, answer.text
    assert client.get("/v1/collections/docs/points/a").json() == {
        "id": "a",
        "metadata": {"lang": "en"},
        "text": "alpha",
        "vector": [1.0, 0.0],
    }
    snapshot = client.get("/v1/collections/docs").json()["index"]["snapshot_id"]
    bad = pa.table(
        {
            "id": ["c", "c", "d"],
            "vector": pa.array([[1.0, 0.0], [1.0, 2.0, 3.0], [float("nan"), 1.0]], pa.list_(pa.float64())),
            "metadata": ["[1]", None, None],
        }
    )
    body = assert_problem(client.post("/v1/collections/docs/upsert", content=arrow(bad), headers=headers), 422)
    assert [e["field"] for e in body["errors"]] == ["points[1].id", "points[1].vector", "points[0].metadata"]
    missing = pa.table({"vector": pa.array([[1.0, 0.0]], pa.list_(pa.float32())), "colour": ["red"]})
    body = assert_problem(client.post("/v1/collections/docs/upsert", content=arrow(missing), headers=headers), 422)
    assert [e["field"] for e in body["errors"]] == ["points.colour", "points.id"]
    assert_problem(client.post("/v1/collections/docs/upsert", content=b"not arrow", headers=headers), 400)
    assert_problem(client.post("/v1/collections/docs/upsert", content=b"x", headers={"content-type": "text/csv"}), 415)
    assert client.get("/v1/collections/docs").json()["index"]["snapshot_id"] == snapshot  # nothing was written


def test_an_empty_batch_is_refused_and_names_are_checked(client: AppClient) -> None:
    """A batch of no queries once answered 200 for any collection name, existing or not, without looking."""
    body = assert_problem(client.post("/v1/collections/0/search", json={"queries": []}), 422, "min_items")
    assert body["errors"][0]["pointer"] == "/queries"
    assert_problem(client.post("/v1/collections/0/search", json={"queries": [{"vector": [1.0]}]}), 400)
    assert_problem(client.post("/v1/collections/nope/search", json={"queries": [{"vector": [1.0]}]}), 404)
