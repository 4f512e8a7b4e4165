"""Point-lookup benchmark: the HTTP overhead of one small query, measured in pairs against in-process DuckDB.

One server with one dataset of ROWS rows x 8 columns (the same rows as bench/tables.py); the baseline is a DuckLake
with the same rows in this process. Each round runs the lookup in-process on plain DuckDB, with the embedded
Lakehouse on the server's own lake (the same query engine, no HTTP) and over HTTP, then `SELECT 1` and `/health`
over HTTP, in an order rotated each round. The overhead is the median of the paired differences, which a busy
shared machine moves less than a difference of medians: HTTP against plain DuckDB (the target), and HTTP against
the embedded engine (what HTTP itself costs). The server's own `elapsed_ms` (from parsing the SQL to the last row)
is reported too.

    .venv/bin/python bench/point_lookup.py [--rows 5000000] [--rounds 150]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
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

                    def over_http() -> None:
                        answer = http.post("/v1/sql", json={"sql": POINT})
                        times["server"].append(answer.json()["elapsed_ms"] / 1000)

                    steps: list[tuple[str, Callable[[], object]]] = [
                        ("base", lambda: base.execute(POINT).fetchall()),
                        ("embedded", lambda: embedded.sql(POINT)),
                        ("http", over_http),
                        ("select1", lambda: http.post("/v1/sql", json={"sql": "SELECT 1"})),
                        ("health", lambda: http.get("/health")),
                    ]
                    for round_ in range(args.rounds):
                        # rotated each round: every step runs after every other equally often (a step run straight
                        # after another in the same process finds its caches and threads warm)
                        shift = round_ % len(steps)
                        for name, step in steps[shift:] + steps[:shift]:
                            t0 = time.perf_counter()
                            step()
                            times[name].append(time.perf_counter() - t0)
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
