"""Vector collections against real servers: an acknowledged upsert or delete survives `kill -9` of the server at any
moment, and a second server on the same lake finds what the first acknowledged, with no refresh."""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_serve import _serve, _serve_pair
from tests.soak import loops

pytestmark = pytest.mark.e2e
DIM = 8


def _stop(proc: Any) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def _vector(n: int) -> list[float]:
    """A distinct direction per point number, so a search for a point's own vector finds it first."""
    rng = random.Random(n)
    return [rng.uniform(-1, 1) for _ in range(DIM)]


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    acked: set[str] = set()
    deleted: set[str] = set()
    uncertain: set[str] = set()  # a delete cut off before its answer may or may not have committed
    counter = iter(range(1_000_000))
    server, url = _serve(tmp_path, capture=False)
    try:
        assert httpx.post(url + "/v1/collections", json={"name": "docs", "dim": DIM}).status_code == 201
        for _ in range(loops(2, 8)):
            stop = threading.Event()

            def write(base_url: str, stop: threading.Event = stop) -> None:
                with httpx.Client(base_url=base_url, timeout=30) as c:
                    while not stop.is_set():
                        ids = [f"p{next(counter)}" for _ in range(25)]
                        points = [{"id": i, "vector": _vector(int(i[1:])), "metadata": {"n": i}} for i in ids]
                        try:
                            r = c.post("/v1/collections/docs/upsert", json={"points": points})
                            if r.status_code == 200:
                                acked.update(ids)
                            if len(acked) > 60 and random.random() < 0.3:
                                victims = random.sample(sorted(acked - deleted - uncertain), 5)
                                uncertain.update(victims)
                                d = c.post("/v1/collections/docs/delete", json={"ids": victims})
                                if d.status_code == 200:
                                    deleted.update(victims)
                                    uncertain.difference_update(victims)
                        except httpx.TransportError:
                            return  # the server is gone: what was not answered was not acknowledged

            enough = len(acked) + 50  # this round's writes before the kill: a loaded machine is slower to get there
            writer = threading.Thread(target=write, args=(url,))
            writer.start()
            threading.Event().wait(random.uniform(0.8, 2.0))
            deadline = time.monotonic() + 30
            while len(acked) < enough and time.monotonic() < deadline and writer.is_alive():
                threading.Event().wait(0.05)
            server.send_signal(signal.SIGKILL)  # mid-stream: a request is usually in flight
            server.wait(timeout=30)
            stop.set()
            writer.join(timeout=60)
            server, url = _serve(tmp_path, capture=False)
        assert len(acked) >= 100, f"too few writes were acknowledged to test anything: {len(acked)}"
        with httpx.Client(base_url=url, timeout=30) as c:
            count = c.get("/v1/collections/docs").json()["count"]
            present = acked - deleted - uncertain
            assert count >= len(present)  # unacknowledged upserts may have committed too
            for point_id in sorted(present):
                r = c.get(f"/v1/collections/docs/points/{point_id}")
                assert r.status_code == 200, f"acknowledged {point_id} is gone"
            for point_id in sorted(deleted):
                assert c.get(f"/v1/collections/docs/points/{point_id}").status_code == 404, f"{point_id} came back"
            for point_id in random.sample(sorted(present), 20):
                found = c.post("/v1/collections/docs/search", json={"vector": _vector(int(point_id[1:])), "k": 1})
                assert found.json()["results"][0]["id"] == point_id
    finally:
        if server.poll() is None:
            _stop(server)


@pytest.mark.parametrize("pair", ["sqlite", pytest.param("postgres+s3", marks=[pytest.mark.postgres, pytest.mark.s3])])
def test_a_second_server_sees_each_acknowledged_write(
    tmp_path: Path, pair: str, request: pytest.FixtureRequest
) -> None:
    writer, writer_url, reader, reader_url = _serve_pair(tmp_path, pair, request)
    misses: list[str] = []
    try:
        with httpx.Client(base_url=writer_url, timeout=30) as a, httpx.Client(base_url=reader_url, timeout=30) as b:
            assert a.post("/v1/collections", json={"name": "docs", "dim": DIM}).status_code == 201
            for n in range(loops(30, 120)):
                ack = a.post("/v1/collections/docs/upsert", json={"points": [{"id": f"p{n}", "vector": _vector(n)}]})
                assert ack.status_code == 200, ack.text
                found = b.post("/v1/collections/docs/search", json={"vector": _vector(n), "k": 1}).json()
                if [r["id"] for r in found["results"]] != [f"p{n}"]:
                    misses.append(f"p{n}")
                if n % 10 == 9:
                    assert a.post("/v1/collections/docs/delete", json={"ids": [f"p{n}"]}).status_code == 200
                    if b.get(f"/v1/collections/docs/points/p{n}").status_code != 404:
                        misses.append(f"deleted p{n}")
        assert misses == []
    finally:
        _stop(writer)
        _stop(reader)
