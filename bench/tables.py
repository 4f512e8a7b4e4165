"""Tables benchmark: Lakehouse over HTTP against in-process DuckDB on the same kind of DuckLake, in one run.

Data is generated in the run (ROWS rows x 8 mixed columns, as Parquet and CSV). Baseline: DuckDB in this process
with a DuckLake on a SQLite catalog, doing the same work. Prints medians and ratios; copy them to bench/RESULTS.md.

    .venv/bin/python bench/tables.py [--rows 5000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
from pathlib import Path

import duckdb
import httpx
import pyarrow.ipc
from _common import median_seconds, peak_rss_mib, start_server

from lakehouse.tables.extensions import load_extensions

GENERATE = """
SELECT range AS id,
       'customer_' || (range % 100000) AS name,
       (range % 97) * 1.5 AS amount,
       range % 1000 AS store,
       DATE '2024-01-01' + (range % 365)::INTEGER AS day,
       range % 2 = 0 AS flag,
       md5(range::VARCHAR) AS token,
       (range * 7919) % 100003 AS score
FROM range({rows})
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows, repeat = args.rows, args.repeat

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

        t_base_parquet = median_seconds(lambda: base_ingest(f"read_parquet('{parquet}')"), repeat)
        t_base_csv = median_seconds(lambda: base_ingest(f"read_csv('{csv}', header = true)"), repeat)
        base.execute(f"CREATE TABLE lake.fact AS SELECT * FROM read_parquet('{parquet}')")
        agg = "SELECT store, count(*), sum(amount), avg(score) FROM fact GROUP BY store ORDER BY store"
        point = "SELECT * FROM fact WHERE id = 4242"
        fetch = f"SELECT * FROM fact LIMIT {min(rows, 1_000_000)}"
        base.execute("USE lake")
        t_base_agg = median_seconds(lambda: base.execute(agg).fetchall(), repeat)
        points_base = [median_seconds(lambda: base.execute(point).fetchall(), 1) for _ in range(50)]
        t_base_fetch = median_seconds(lambda: base.execute(fetch).to_arrow_table(), repeat)

        # Lakehouse over HTTP
        proc, url = start_server(tmp / "lh")
        http = httpx.Client(base_url=url, timeout=600)
        try:
            names = iter(range(1000))

            def http_ingest(path: Path, ctype: str) -> None:
                with path.open("rb") as f:
                    r = http.post(
                        f"/v1/datasets/t{next(names)}/ingest?create=true", content=f, headers={"content-type": ctype}
                    )
                assert r.status_code == 200, r.text

            t_http_parquet = median_seconds(lambda: http_ingest(parquet, "application/vnd.apache.parquet"), repeat)
            t_http_csv = median_seconds(lambda: http_ingest(csv, "text/csv"), repeat)
            with parquet.open("rb") as f:
                http.post(
                    "/v1/datasets/fact/ingest?create=true",
                    content=f,
                    headers={"content-type": "application/vnd.apache.parquet"},
                )

            def http_sql(sql: str, accept: str = "application/json") -> httpx.Response:
                r = http.post("/v1/sql", json={"sql": sql}, headers={"accept": accept})
                assert r.status_code == 200, r.text
                return r

            http_sql(agg)  # warm the read path
            t_http_agg = median_seconds(lambda: http_sql(agg), repeat)
            points_http = [median_seconds(lambda: http_sql(point), 1) for _ in range(50)]
            t_http_fetch = median_seconds(
                lambda: pyarrow.ipc.open_stream(
                    http_sql(fetch, "application/vnd.apache.arrow.stream").content
                ).read_all(),
                repeat,
            )
            rss = peak_rss_mib(proc.pid)
        finally:
            http.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)

    print(f"machine: {os.cpu_count()} cores; rows: {rows:,} x 8 columns; medians of {repeat} runs")
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
    pb, ph = statistics.median(points_base), statistics.median(points_http)
    print(f"| point lookup p50 | {pb * 1e3:.2f} ms | {ph * 1e3:.2f} ms | +{(ph - pb) * 1e3:.2f} ms | <= +3 ms |")
    print(
        f"| fetch {min(rows, 1_000_000):,} rows as Arrow | {t_base_fetch * 1e3:.0f} ms | {t_http_fetch * 1e3:.0f} ms | "
        f"{t_http_fetch / t_base_fetch:.2f}x time | <= 1.5x |"
    )
    print(f"server peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
