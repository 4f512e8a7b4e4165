"""Read-your-writes: an ingest acknowledged by a server is seen by the next SQL query, on it or on another one.

One `lakehouse serve` process, or two sharing one lake: one data dir (the SQLite catalog in it), or, as two
machines would, each its own data dir with a PostgreSQL catalog and data under one S3 prefix. 100 times (500 in
``make soak``): ingest a
row through process A, then count through process B's (or A's own) /v1/sql. No refresh tick, no sleep, no misses.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_serve import _serve_pair
from tests.soak import loops

ROUNDS = loops(60, 500)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("pair", "processes"),
    [
        ("sqlite", 1),
        ("sqlite", 2),
        pytest.param("postgres+s3", 2, marks=[pytest.mark.postgres, pytest.mark.s3]),
    ],
)
def test_ingests_each_visible_to_the_next_query(
    tmp_path: Path, pair: str, processes: int, request: pytest.FixtureRequest
) -> None:
    writer, writer_url, reader, reader_url = _serve_pair(tmp_path, pair, request, processes)
    misses = []
    try:
        with httpx.Client(base_url=writer_url, timeout=30) as a, httpx.Client(base_url=reader_url, timeout=30) as b:
            nd = {"content-type": "application/x-ndjson"}
            for i in range(ROUNDS):
                ack = a.post("/v1/datasets/ryw/ingest?create=true", content=f'{{"i": {i}}}\n'.encode(), headers=nd)
                assert ack.status_code == 200, ack.text
                seen = b.post("/v1/sql", json={"sql": "SELECT count(*), max(i) FROM ryw"})
                assert seen.status_code == 200, seen.text
                if seen.json()["rows"] != [[i + 1, i]]:
                    misses.append((i, seen.json()["rows"]))
    finally:
        for proc in {writer, reader}:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert misses == [], f"{len(misses)} of {ROUNDS} reads missed an acknowledged write: {misses[:5]}"
