"""Concurrent writers: threads of one process and several processes on one catalog all commit, none is lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lakehouse.core import Lakehouse
from lakehouse.tables.datasets import Datasets
from lakehouse.tables.ingest import Ingestor
from lakehouse.tables.lake import Lake


def _rows(lake: Lake, sql: str) -> list[tuple[object, ...]]:
    with lake.cursor() as cur:
        return cur.execute(sql).fetchall()


def test_threads_append_upsert_create_and_evolve_at_once(lake: Lake, tmp_path: Path) -> None:
    ingestor = Ingestor(lake)

    def body(name: str, text: str) -> Path:
        path = tmp_path / f"{name}.ndjson"
        path.write_text(text)
        return path

    ingestor.ingest_file("t", body("seed", '{"id": 0, "v": "seed"}\n'), "ndjson", create=True)

    def work(i: int) -> None:
        ingestor.ingest_file("t", body(f"a{i}", f'{{"id": {100 + i}, "v": "a"}}\n'), "ndjson")
        ingestor.ingest_file("t", body(f"u{i}", f'{{"id": 0, "v": "u{i}"}}\n'), "ndjson", mode="upsert", key=["id"])
        ingestor.ingest_file(f"n{i}", body(f"n{i}", '{"id": 1}\n'), "ndjson", create=True)
        ingestor.ingest_file("t", body(f"e{i}", f'{{"id": {200 + i}, "c{i}": {i}}}\n'), "ndjson")
        Datasets(lake).create(f"d{i}", [{"name": "x", "type": "int"}])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(16)))  # any failure raises here
    assert _rows(lake, "SELECT count(*), count(*) FILTER (WHERE id = 0) FROM lake.t") == [(33, 1)]
    assert len(Datasets(lake).list()) == 1 + 16 + 16
    columns = {c.name for c in Datasets(lake).get("t").columns}
    assert {f"c{i}" for i in range(16)} <= columns


@pytest.mark.e2e
def test_processes_sharing_a_sqlite_catalog_all_commit(tmp_path: Path) -> None:
    with Lakehouse.open(tmp_path) as lakehouse:
        lakehouse.ingest("t", b'{"id": 0, "w": -1}\n', format="ndjson", create=True)
    worker = textwrap.dedent(
        f"""
        import sys
        from concurrent.futures import ThreadPoolExecutor
        from lakehouse.core import Lakehouse
        w = int(sys.argv[1])
        with Lakehouse.open({str(tmp_path)!r}) as lakehouse:
            def one(i):
                row = '{{"id": %d, "w": %d}}\\n' % (i, w)
                lakehouse.ingest("t", row.encode(), format="ndjson")
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(one, range(25)))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", worker, str(w)], stderr=subprocess.PIPE, text=True) for w in range(3)
    ]
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], errors
    with Lakehouse.open(tmp_path) as lakehouse:
        assert lakehouse.sql("SELECT w, count(*) FROM t GROUP BY w ORDER BY w").rows == [
            [-1, 1],
            [0, 25],
            [1, 25],
            [2, 25],
        ]
