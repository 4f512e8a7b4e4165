"""Tables benchmark: Lakehouse over HTTP against in-process DuckDB on the same kind of DuckLake, in one run.

Data is generated in the run (ROWS rows x 8 mixed columns, as Parquet and CSV). Baseline: DuckDB in this process
with a DuckLake on a SQLite catalog, doing the same work, measured in turns with the HTTP side (base, HTTP, base,
...) so both see the same load on a shared machine. Peer: pyiceberg with a SqlCatalog on SQLite, when installed
(``pip install -e '.[bench]'``). Prints medians and ratios; copy them to bench/RESULTS.md.

    .venv/bin/python bench/tables.py [--rows 5000000] [--repeat 3]
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
from typing import Any

import duckdb
import httpx
from _common import GENERATE, median_seconds, peak_rss_mib, start_server

from lakehouse import Client
from lakehouse.tables.extensions import load_extensions


def interleaved(
    fns: list[Callable[[], object]], repeat: int, samples: list[list[float]] | None = None, *, settle: bool = False
) -> list[float]:
    """Median seconds of each function, run in turns (a, b, a, b, ...) so both see the same machine load; every
    time is appended to ``samples`` when given. ``settle``: flush dirty pages to disk before each (untimed), for
    steps that write hundreds of MB."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for index, fn in enumerate(fns):
            if settle:
                os.sync()  # untimed: no step pays for writing back what the step before it wrote
            t0 = time.perf_counter()
            fn()
            times[index].append(time.perf_counter() - t0)
    if samples is not None:
        samples.extend(times)
    return [statistics.median(t) for t in times]


def iceberg_peer(tmp: Path, parquet: Path, csv: Path, fetch_rows: int, repeat: int) -> dict[str, float] | None:
    """pyiceberg (SqlCatalog on SQLite, local warehouse): read each file with pyarrow and append it to a new table;
    scan ``fetch_rows`` rows to Arrow. None when pyiceberg is not installed (``pip install -e '.[bench]'``)."""
    try:
        from pyiceberg.catalog.sql import SqlCatalog
    except ImportError:
        return None
    import pyarrow.csv
    import pyarrow.parquet

    (tmp / "iceberg").mkdir()
    catalog = SqlCatalog(
        "bench", uri=f"sqlite:///{tmp}/iceberg/catalog.db", warehouse=f"file://{tmp}/iceberg/warehouse"
    )
    catalog.create_namespace("bench")
    counter = iter(range(1000))

    def ingest(read: Callable[[], Any]) -> None:
        data = read()
        table = catalog.create_table(f"bench.t{next(counter)}", schema=data.schema)
        table.append(data)

    t_parquet = median_seconds(lambda: ingest(lambda: pyarrow.parquet.read_table(parquet)), repeat)
    t_csv = median_seconds(lambda: ingest(lambda: pyarrow.csv.read_csv(csv)), repeat)
    table = catalog.load_table("bench.t0")
    t_scan = median_seconds(lambda: table.scan(limit=fetch_rows).to_arrow(), repeat)
    return {"parquet": t_parquet, "csv": t_csv, "scan": t_scan}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--points", type=int, default=200)
    args = parser.parse_args()
    rows, repeat = args.rows, args.repeat
    fetch_rows = min(rows, 1_000_000)

    with tempfile.TemporaryDirectory(prefix="lh-bench-tables-") as tmp_text:
        tmp = Path(tmp_text)
        parquet, csv = tmp / "data.parquet", tmp / "data.csv"
        gen = duckdb.connect()
        gen.execute(f"COPY ({GENERATE.format(rows=rows)}) TO '{parquet}' (FORMAT parquet)")
        gen.execute(f"COPY ({GENERATE.format(rows=rows)}) TO '{csv}' (FORMAT csv, HEADER)")
        gen.close()

        # baseline: in-process DuckDB on a DuckLake with a SQLite catalog
        base = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
        load_extensions(base, ["ducklake", "sqlite_scanner"])
        (tmp / "base").mkdir()
        base.execute(f"ATTACH 'ducklake:sqlite:{tmp}/base/catalog.sqlite' AS lake (DATA_PATH '{tmp}/base/data/')")
        counter = iter(range(1000))

        def base_ingest(reader: str) -> None:
            base.execute(f"CREATE TABLE lake.t{next(counter)} AS SELECT * FROM {reader}")

        base.execute(f"CREATE TABLE lake.fact AS SELECT * FROM read_parquet('{parquet}')")
        agg = "SELECT store, count(*), sum(amount), avg(score) FROM fact GROUP BY store ORDER BY store"
        point = "SELECT * FROM fact WHERE id = 4242"
        fetch = f"SELECT * FROM fact LIMIT {fetch_rows}"
        base.execute("USE lake")

        # Lakehouse over HTTP, measured in turns with the baseline
        proc, url = start_server(tmp / "lh")
        http = httpx.Client(base_url=url, timeout=600)
        client = Client(url, timeout=600)
        try:
            names = iter(range(1000))
            server_steps: dict[str, list[float]] = {"application/vnd.apache.parquet": [], "text/csv": []}

            def http_ingest(path: Path, ctype: str) -> None:
                fmt = "parquet" if ctype.endswith("parquet") else "csv"
                answer = client.ingest(f"t{next(names)}", path, format=fmt, create=True)  # streamed, 1 MiB chunks
                server_steps[ctype].append((answer.duration_ms or 0.0) / 1000)

            t_base_parquet, t_http_parquet = interleaved(
                [
                    lambda: base_ingest(f"read_parquet('{parquet}')"),
                    lambda: http_ingest(parquet, "application/vnd.apache.parquet"),
                ],
                repeat,
                settle=True,
            )
            t_base_csv, t_http_csv = interleaved(
                [lambda: base_ingest(f"read_csv('{csv}', header = true)"), lambda: http_ingest(csv, "text/csv")],
                repeat,
                settle=True,
            )
            with parquet.open("rb") as f:
                http.post(
                    "/v1/datasets/fact/ingest?create=true",
                    content=f,
                    headers={"content-type": "application/vnd.apache.parquet"},
                )

            def http_sql(sql: str) -> httpx.Response:
                r = http.post("/v1/sql", json={"sql": sql})
                assert r.status_code == 200, r.text
                return r

            http_sql(agg)  # warm the read path
            t_base_agg, t_http_agg = interleaved([lambda: base.execute(agg).fetchall(), lambda: http_sql(agg)], repeat)
            point_times: list[list[float]] = []
            pb, ph = interleaved(
                [lambda: base.execute(point).fetchall(), lambda: http_sql(point)], args.points, point_times
            )
            paired = statistics.median(h - b for b, h in zip(*point_times, strict=True))
            t_base_fetch, t_http_fetch = interleaved(
                [lambda: base.execute(fetch).to_arrow_table(), lambda: client.sql_arrow(fetch)], repeat
            )
            rss = peak_rss_mib(proc.pid)
        finally:
            client.close()
            http.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        peer = iceberg_peer(tmp, parquet, csv, fetch_rows, repeat)

    print(f"machine: {os.cpu_count()} cores; rows: {rows:,} x 8 columns; medians of {repeat} runs in turns")
    print("| measure | in-process DuckDB + DuckLake | Lakehouse over HTTP | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| ingest Parquet (rows/s) | {rows / t_base_parquet:,.0f} | {rows / t_http_parquet:,.0f} | "
        f"{t_base_parquet / t_http_parquet:.2f} of in-process | >= 0.70 |"
    )
    print(
        f"| ingest CSV (rows/s) | {rows / t_base_csv:,.0f} | {rows / t_http_csv:,.0f} | "
        f"{t_base_csv / t_http_csv:.2f} of in-process | >= 0.70 |"
    )
    print(
        f"| aggregate over {rows:,} rows | {t_base_agg * 1e3:.1f} ms | {t_http_agg * 1e3:.1f} ms | "
        f"{t_http_agg / t_base_agg:.2f}x time | <= 1.15x |"
    )
    print(
        f"| point lookup p50 ({args.points} in turns) | {pb * 1e3:.2f} ms | {ph * 1e3:.2f} ms | "
        f"{(ph - pb) * 1e3:+.2f} ms (median of the {args.points} paired differences: {paired * 1e3:+.2f} ms) | "
        "<= +3 ms |"
    )
    print(
        f"| fetch {fetch_rows:,} rows as Arrow | {t_base_fetch * 1e3:.0f} ms | {t_http_fetch * 1e3:.0f} ms | "
        f"{t_http_fetch / t_base_fetch:.2f}x time | <= 1.5x |"
    )
    print(f"server peak RSS: {rss:.0f} MiB")
    steps = {ctype.rsplit("/", 1)[-1]: statistics.median(times) for ctype, times in server_steps.items()}
    print(
        "server's own ingest step (after the body was spooled), median: "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items())
        + f"; in-process: vnd.apache.parquet {t_base_parquet:.2f} s, csv {t_base_csv:.2f} s"
    )
    if peer is None:
        print("pyiceberg peer: not installed (pip install -e '.[bench]')")
        return
    print()
    print("| measure | pyiceberg (SqlCatalog on SQLite) | Lakehouse over HTTP | Lakehouse / pyiceberg time |")
    print("| --- | --- | --- | --- |")
    print(
        f"| ingest Parquet (rows/s) | {rows / peer['parquet']:,.0f} | {rows / t_http_parquet:,.0f} | "
        f"{t_http_parquet / peer['parquet']:.2f}x |"
    )
    print(
        f"| ingest CSV (rows/s) | {rows / peer['csv']:,.0f} | {rows / t_http_csv:,.0f} | "
        f"{t_http_csv / peer['csv']:.2f}x |"
    )
    print(
        f"| scan {fetch_rows:,} rows to Arrow | {peer['scan'] * 1e3:.0f} ms | {t_http_fetch * 1e3:.0f} ms | "
        f"{t_http_fetch / peer['scan']:.2f}x |"
    )


if __name__ == "__main__":
    main()
