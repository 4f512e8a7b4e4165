"""Large-ingest benchmark: a multi-GB body streamed to `lakehouse serve`, with the server's memory watched.

Generates a CSV of about --gib GiB (8 mixed columns) in the run, starts a server, records its RSS at rest, streams the
file to POST /v1/datasets/big/ingest and samples the server's RSS every 50 ms while the request runs (the kernel's
VmHWM gives the true peak). Prints throughput, RSS at rest, peak and the growth; copy them to bench/RESULTS.md.

    .venv/bin/python bench/ingest_large.py [--gib 2] [--format csv|parquet|arrow]
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx
from _common import GENERATE, peak_rss_mib, start_server

CONTENT_TYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def generate(path: Path, fmt: str, gib: float) -> int:
    """Write about ``gib`` GiB: measure the bytes per row on a sample, then write that many rows."""
    con = duckdb.connect()

    def write(target: Path, rows: int) -> None:
        if fmt == "arrow":
            import pyarrow.ipc

            reader = con.execute(GENERATE.format(rows=rows)).to_arrow_reader(122_880)
            with pyarrow.ipc.new_stream(str(target), reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
            return
        options = "(FORMAT csv, HEADER)" if fmt == "csv" else "(FORMAT parquet)"
        con.execute(f"COPY ({GENERATE.format(rows=rows)}) TO '{target}' {options}")

    sample = path.with_suffix(".sample")
    write(sample, 1_000_000)
    rows = int(gib * 2**30 / (sample.stat().st_size / 1_000_000))
    sample.unlink()
    write(path, rows)
    con.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--format", choices=list(CONTENT_TYPES), default="csv")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lh-bench-large-") as tmp_text:
        tmp = Path(tmp_text)
        source = tmp / f"big.{args.format}"
        rows = generate(source, args.format, args.gib)
        size = source.stat().st_size
        proc, url = start_server(tmp / "lh")
        try:
            with httpx.Client(base_url=url, timeout=3600) as http:
                http.post("/v1/sql", json={"sql": "SELECT 1"})  # open the lake and the read path first
                at_rest = rss_mib(proc.pid)
                samples: list[float] = []
                done = threading.Event()

                def watch() -> None:
                    while not done.is_set():
                        samples.append(rss_mib(proc.pid))
                        time.sleep(0.05)

                watcher = threading.Thread(target=watch, daemon=True)
                watcher.start()
                started = time.perf_counter()
                with source.open("rb") as body:
                    response = http.post(
                        "/v1/datasets/big/ingest?create=true",
                        content=body,
                        headers={"content-type": CONTENT_TYPES[args.format]},
                    )
                elapsed = time.perf_counter() - started
                done.set()
                watcher.join()
                assert response.status_code == 200, response.text
                result = response.json()
                count = http.post("/v1/sql", json={"sql": "SELECT count(*) FROM big"}).json()["rows"][0][0]
            peak = peak_rss_mib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)

    assert result["rows_written"] == rows == count, (result, rows, count)
    print(f"machine: {os.cpu_count()} cores; {args.format} body of {size / 2**30:.2f} GiB, {rows:,} rows x 8 columns")
    print(f"ingest over HTTP: {elapsed:.1f} s ({size / 2**20 / elapsed:.0f} MiB/s, {rows / elapsed:,.0f} rows/s)")
    print(f"server ingest step (after the body was spooled): {result['duration_ms'] / 1000:.1f} s")
    print(
        f"server RSS: {at_rest:.0f} MiB at rest, {max(samples):.0f} MiB highest sample during the request, "
        f"{peak:.0f} MiB peak (VmHWM) over the whole run: +{peak - at_rest:.0f} MiB for a "
        f"{size / 2**20:.0f} MiB body"
    )


if __name__ == "__main__":
    main()
