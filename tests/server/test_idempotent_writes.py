"""Idempotency-Key on the other write routes: dataset create/rename/drop and blob delete answer a retry with the
first response and change nothing; the same key on a different request is refused; keys belong to an API key."""

from __future__ import annotations

from collections.abc import Callable

from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

COLUMNS = [{"name": "id", "type": "bigint"}]


def test_dataset_create_rename_drop_replay(client: AppClient) -> None:
    key = {"Idempotency-Key": "create-orders"}
    first = client.post("/v1/datasets", json={"name": "orders", "columns": COLUMNS}, headers=key)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    snapshot = client.get("/v1/datasets/orders").json()["snapshot_id"]
    again = client.post("/v1/datasets", json={"name": "orders", "columns": COLUMNS}, headers=key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # not 409 dataset_exists: the first answer
    assert client.get("/v1/datasets/orders").json()["snapshot_id"] == snapshot
    other = client.post("/v1/datasets", json={"name": "other", "columns": COLUMNS}, headers=key)
    assert_problem(other, 409, "idempotency_conflict")
    assert client.get("/v1/datasets").json()["items"] == [{"namespace": "main", "name": "orders"}]

    rename = {"Idempotency-Key": "rename-orders"}
    renamed = client.patch("/v1/datasets/orders", json={"name": "sales"}, headers=rename)
    assert renamed.status_code == 200 and renamed.json()["name"] == "sales"
    replayed = client.patch("/v1/datasets/orders", json={"name": "sales"}, headers=rename)
    assert replayed.status_code == 200 and replayed.json() == renamed.json()  # not 404: orders is gone

    drop = {"Idempotency-Key": "drop-sales"}
    dropped = client.delete("/v1/datasets/sales", headers=drop)
    assert dropped.status_code == 200
    assert client.delete("/v1/datasets/sales", headers=drop).json() == dropped.json()
    assert_problem(client.delete("/v1/datasets/sales"), 404, "dataset_not_found")  # without the key: as it is


def test_a_failed_write_releases_its_key(client: AppClient) -> None:
    key = {"Idempotency-Key": "bad-then-good"}
    bad = client.post("/v1/datasets", json={"name": "t", "columns": [{"name": "a", "type": "nope"}]}, headers=key)
    assert_problem(bad, 422, "invalid_column_type")
    retried = client.post("/v1/datasets", json={"name": "t", "columns": COLUMNS}, headers=key)
    assert retried.status_code == 201
    assert_problem(client.post("/v1/datasets", json={"name": "t"}, headers={"Idempotency-Key": "\x01"}), 400)


def test_blob_delete_replay(client: AppClient) -> None:
    client.put("/v1/blobs/docs/a.txt", content=b"x")
    key = {"Idempotency-Key": "delete-a"}
    assert client.delete("/v1/blobs/docs/a.txt", headers=key).status_code == 204
    again = client.delete("/v1/blobs/docs/a.txt", headers=key)
    assert again.status_code == 204 and again.headers["idempotent-replayed"] == "true"
    assert_problem(client.delete("/v1/blobs/docs/a.txt"), 404, "blob_not_found")


def test_blob_upload_replay(client: AppClient) -> None:
    key = {"Idempotency-Key": "upload-a"}
    first = client.put("/v1/blobs/docs/a.txt", content=b"version 1", headers=key)
    assert first.status_code == 201
    again = client.put("/v1/blobs/docs/a.txt", content=b"version 1", headers=key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.headers["etag"] == first.headers["etag"]  # not written again
    assert client.head("/v1/blobs/docs/a.txt").headers["etag"] == first.headers["etag"]
    different = client.put("/v1/blobs/docs/a.txt", content=b"version 2", headers=key)
    assert_problem(different, 409, "idempotency_conflict")
    assert client.get("/v1/blobs/docs/a.txt").content == b"version 1"
    elsewhere = client.put("/v1/blobs/docs/b.txt", content=b"version 1", headers=key)
    assert_problem(elsewhere, 409, "idempotency_conflict")


def test_keys_are_per_api_key(make_client: Callable[..., AppClient]) -> None:
    client = make_client(auth={"enabled": True})
    assert client.lakehouse is not None
    alice = {"Authorization": "Bearer " + client.lakehouse.keys.create("alice", "read,write").secret}
    bob = {"Authorization": "Bearer " + client.lakehouse.keys.create("bob", "read,write").secret}
    key = {"Idempotency-Key": "same-words"}
    made = client.post("/v1/datasets", json={"name": "a", "columns": COLUMNS}, headers={**alice, **key})
    other = client.post("/v1/datasets", json={"name": "b", "columns": COLUMNS}, headers={**bob, **key})
    assert made.status_code == 201 and other.status_code == 201 and "idempotent-replayed" not in other.headers
