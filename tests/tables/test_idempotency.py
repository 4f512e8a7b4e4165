"""Idempotency-Key on ingest: a retry returns the first response and writes nothing, even after a crash."""

from __future__ import annotations

import pytest

from lakehouse.idempotency import IdempotencyStore
from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

ND = {"content-type": "application/x-ndjson"}
URL = "/v1/datasets/orders/ingest?create=true"


def count(client: AppClient) -> int:
    rows: int = client.post("/v1/sql", json={"sql": "SELECT count(*) FROM orders"}).json()["rows"][0][0]
    return rows


def test_retry_returns_the_first_response_and_writes_nothing(client: AppClient) -> None:
    headers = {**ND, "Idempotency-Key": "order-batch-1"}
    first = client.post(URL, content=b'{"id": 1}\n{"id": 2}\n', headers=headers)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    snapshot = client.get("/v1/datasets/orders").json()["snapshot_id"]
    again = client.post(URL, content=b'{"id": 1}\n{"id": 2}\n', headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert count(client) == 2 and client.get("/v1/datasets/orders").json()["snapshot_id"] == snapshot
    other = client.post(URL, content=b'{"id": 3}\n', headers=headers)
    assert_problem(other, 409, "idempotency_conflict")
    assert count(client) == 2
    fresh = client.post(URL, content=b'{"id": 1}\n{"id": 2}\n', headers={**ND, "Idempotency-Key": "order-batch-2"})
    assert fresh.status_code == 200 and count(client) == 4


def test_a_failed_request_can_be_retried(client: AppClient) -> None:
    client.post(URL, content=b'{"id": 1}\n', headers=ND)
    headers = {**ND, "Idempotency-Key": "k"}
    assert_problem(client.post(URL, content=b'{"id": "x"}\n', headers=headers), 409, "schema_mismatch")
    assert_problem(client.post(URL, content=b'{"id": "x"}\n', headers=headers), 409, "schema_mismatch")
    assert client.post(URL, content=b'{"id": 5}\n', headers=headers).status_code == 200
    assert count(client) == 2


def test_a_crash_after_the_commit_is_recognised(client: AppClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first attempt commits, then dies before recording its response: the retry replays from the lake."""
    headers = {**ND, "Idempotency-Key": "crashy"}
    real_complete = IdempotencyStore.complete

    def die(self: IdempotencyStore, claim: object, response: object) -> None:
        raise RuntimeError("process died")

    monkeypatch.setattr(IdempotencyStore, "complete", die)
    assert client.post(URL, content=b'{"id": 1}\n', headers=headers).status_code == 500
    monkeypatch.setattr(IdempotencyStore, "complete", real_complete)
    retry = client.post(URL, content=b'{"id": 1}\n', headers=headers)
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    body = retry.json()
    assert body["replayed_from_commit"] and body["rows_written"] == 1 and body["dataset"] == "main.orders"
    assert count(client) == 1
    assert client.post(URL, content=b'{"id": 1}\n', headers=headers).json() == body


def test_a_running_request_is_not_run_twice(client: AppClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim left pending with no commit in the lake (the first attempt is still running) refuses a retry."""
    headers = {**ND, "Idempotency-Key": "slow"}
    monkeypatch.setattr(IdempotencyStore, "release", lambda self, claim: None)
    assert_problem(client.post(URL, content=b"", headers=headers), 400, "empty_body")
    assert_problem(client.post(URL, content=b"", headers=headers), 409, "idempotency_in_progress")


@pytest.mark.parametrize("bad", ["", "has space", "x" * 256, "tab\tkey"])
def test_bad_keys(client: AppClient, bad: str) -> None:
    assert_problem(client.post(URL, content=b'{"id": 1}\n', headers={**ND, "Idempotency-Key": bad}), 400)
