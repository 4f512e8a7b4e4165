"""Read-your-writes across processes: an ingest acknowledged by one server is seen by the next SQL query on another.

Two `lakehouse serve` processes share one data dir (one DuckLake catalog). 500 times: ingest a row through
process A, then count through process B's /v1/sql. No refresh tick, no sleep, zero misses.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_serve import _serve

pytestmark = pytest.mark.e2e


def test_500_ingests_each_visible_to_the_other_process(tmp_path: Path) -> None:
    writer, writer_url = _serve(tmp_path, capture=False)
    reader, reader_url = _serve(tmp_path, capture=False)
    misses = []
    try:
        with httpx.Client(base_url=writer_url, timeout=30) as a, httpx.Client(base_url=reader_url, timeout=30) as b:
            nd = {"content-type": "application/x-ndjson"}
            for i in range(500):
                ack = a.post("/v1/datasets/ryw/ingest?create=true", content=f'{{"i": {i}}}\n'.encode(), headers=nd)
                assert ack.status_code == 200, ack.text
                seen = b.post("/v1/sql", json={"sql": "SELECT count(*), max(i) FROM ryw"})
                assert seen.status_code == 200, seen.text
                if seen.json()["rows"] != [[i + 1, i]]:
                    misses.append((i, seen.json()["rows"]))
    finally:
        for proc in (writer, reader):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert misses == [], f"{len(misses)} of 500 reads missed an acknowledged write: {misses[:5]}"
