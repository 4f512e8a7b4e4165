"""Point-lookup benchmark: the HTTP overhead of one small query, measured in pairs against in-process DuckDB.

One server with one dataset of ROWS rows x 8 columns (the same rows as bench/tables.py); the baseline is a DuckLake
with the same rows in this process. Each round runs the lookup in-process on plain DuckDB, then with the embedded
Lakehouse on the server's own lake (the same query engine, no HTTP), then over HTTP, then `SELECT 1` and `/health`
over HTTP. The overhead is the median of the paired differences, which a busy shared machine moves less than a
difference of medians: HTTP against plain DuckDB (the target), and HTTP against the embedded engine (what HTTP
itself costs). The server's own `elapsed_ms` (from parsing the SQL to the last row) is reported too.

    .venv/bin/python bench/point_lookup.py [--rows 5000000] [--rounds 150]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import httpx
from _common import GENERATE, start_server

from lakehouse import Lakehouse
from lakehouse.tables.extensions import load_extensions

POINT = "SELECT * FROM fact WHERE id = 4242"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=150)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lh-bench-point-") as tmp_text:
        tmp = Path(tmp_text)
        parquet = tmp / "data.parquet"
        duckdb.connect().execute(f"COPY ({GENERATE.format(rows=args.rows)}) TO '{parquet}' (FORMAT parquet)")
        base = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
        load_extensions(base, ["ducklake", "sqlite_scanner"])
        (tmp / "base").mkdir()
        base.execute(f"ATTACH 'ducklake:sqlite:{tmp}/base/catalog.sqlite' AS lake (DATA_PATH '{tmp}/base/data/')")
        base.execute("USE lake")
        base.execute(f"CREATE TABLE fact AS SELECT * FROM read_parquet('{parquet}')")

        proc, url = start_server(tmp / "lh")
        try:
            with httpx.Client(base_url=url, timeout=600) as http:
                with parquet.open("rb") as body:
                    response = http.post(
                        "/v1/datasets/fact/ingest?create=true",
                        content=body,
                        headers={"content-type": "application/vnd.apache.parquet"},
                    )
                assert response.status_code == 200, response.text
                times: dict[str, list[float]] = {
                    "base": [],
                    "embedded": [],
                    "http": [],
                    "server": [],
                    "select1": [],
                    "health": [],
                }
                with Lakehouse.open(tmp / "lh") as embedded:
                    for _ in range(args.rounds):
                        t0 = time.perf_counter()
                        base.execute(POINT).fetchall()
                        t1 = time.perf_counter()
                        embedded.sql(POINT)
                        t2 = time.perf_counter()
                        answer = http.post("/v1/sql", json={"sql": POINT})
                        t3 = time.perf_counter()
                        http.post("/v1/sql", json={"sql": "SELECT 1"})
                        t4 = time.perf_counter()
                        http.get("/health")
                        t5 = time.perf_counter()
                        times["base"].append(t1 - t0)
                        times["embedded"].append(t2 - t1)
                        times["http"].append(t3 - t2)
                        times["server"].append(answer.json()["elapsed_ms"] / 1000)
                        times["select1"].append(t4 - t3)
                        times["health"].append(t5 - t4)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1e3:.2f} ms"

    def diff(values: list[float]) -> str:
        return f"{statistics.median(values) * 1e3:+.2f} ms"

    def paired(a: str, b: str) -> list[float]:
        return [y - x for x, y in zip(times[a], times[b], strict=True)]

    print(f"machine: {os.cpu_count()} cores; {args.rows:,} rows x 8 columns; {args.rounds} rounds in turns")
    print(
        f"point lookup: in-process DuckDB {ms(times['base'])}, embedded Lakehouse {ms(times['embedded'])}, "
        f"over HTTP {ms(times['http'])}"
    )
    print(
        "HTTP overhead over in-process DuckDB (median of paired differences): "
        f"{diff(paired('base', 'http'))} (target <= +3 ms)"
    )
    print(f"HTTP over the embedded engine (median of paired differences): {diff(paired('embedded', 'http'))}")
    print(
        f"server's own elapsed_ms: {ms(times['server'])}; SELECT 1 over HTTP {ms(times['select1'])}; "
        f"GET /health {ms(times['health'])}"
    )


if __name__ == "__main__":
    main()
