"""Vectors benchmark, first part: durable upserts, restart with and without a saved index, search latency.

Data: a synthetic clustered set (ROWS x 384, float32, around 1,000 centres), made in the run. Measured in one run:

- durable upsert throughput in batches of 500: in-process (``Lakehouse.vectors.upsert``) and over HTTP
  (``Client.collections.upsert`` against ``lakehouse serve``, as JSON and as Arrow IPC); every batch is one lake
  commit;
- restart: the first search after opening the lakehouse again, with the saved HNSW index (rows read at its
  snapshot, the index loaded) and after deleting it (rows read, the index built);
- search latency (k=10, single query) in-process, unfiltered and with a 50 % and a 1 % metadata filter, with
  recall@10 against exact search over the same points.

Not yet here: FAISS and LanceDB baselines, HTTP search under 16 concurrent clients, embedding throughput.

    .venv/bin/python bench/vectors.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from _common import peak_rss_mib, start_server

from lakehouse import Client, Lakehouse

DIM = 384
BATCH = 500


def clustered(rows: int, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, DIM)).astype(np.float32)
    data: np.ndarray[Any, np.dtype[np.float32]] = (
        centres[rng.integers(0, 1000, rows)] + 0.3 * rng.normal(size=(rows, DIM))
    ).astype(np.float32)
    return data


def batches(vectors: np.ndarray[Any, Any]) -> list[list[dict[str, Any]]]:
    out = []
    for start in range(0, len(vectors), BATCH):
        out.append(
            [
                {"id": f"p{i}", "vector": vectors[i].tolist(), "metadata": {"bucket": i % 100}}
                for i in range(start, min(start + BATCH, len(vectors)))
            ]
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--http-rows", type=int, default=20_000)
    args = parser.parse_args()
    vectors = clustered(args.rows)
    work = batches(vectors)

    with tempfile.TemporaryDirectory(prefix="lh-bench-vectors-") as tmp_text:
        data = Path(tmp_text) / "lh"
        with Lakehouse.open(data) as lh:
            lh.vectors.create("bench", DIM)
            times = []
            for batch in work:
                t0 = time.perf_counter()
                lh.vectors.upsert("bench", batch)
                times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            lh.vectors.search("bench", vector=vectors[0].tolist(), k=10)
            first_build = time.perf_counter() - t0
            described = lh.vectors.describe("bench")
        upsert_rate = BATCH / statistics.median(times)

        def restart() -> float:
            with Lakehouse.open(data) as again:
                t0 = time.perf_counter()
                again.vectors.search("bench", vector=vectors[1].tolist(), k=10)
                return time.perf_counter() - t0

        with_index = restart()
        shutil.rmtree(data / "vectors")
        without_index = restart()

        rng = np.random.default_rng(1)
        queries = vectors[rng.integers(0, len(vectors), 200)] + 0.05 * rng.normal(size=(200, DIM)).astype(np.float32)
        normalized = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        latency: dict[str, tuple[float, float]] = {}
        with Lakehouse.open(data) as lh:
            lh.vectors.search("bench", vector=vectors[0].tolist(), k=10)
            buckets = np.arange(len(vectors)) % 100
            for label, spec, allowed in [
                ("no filter", None, np.ones(len(vectors), dtype=bool)),
                ("50 % filter", {"bucket": {"lt": 50}}, buckets < 50),
                ("1 % filter", {"bucket": 7}, buckets == 7),
            ]:
                ts, hits = [], 0
                for q in queries:
                    t0 = time.perf_counter()
                    found = lh.vectors.search("bench", vector=q.tolist(), k=10, filter=spec)
                    ts.append(time.perf_counter() - t0)
                    qn = q / np.linalg.norm(q)
                    truth = {f"p{i}" for i in np.argsort(-np.where(allowed, normalized @ qn, -np.inf))[:10]}
                    hits += len(truth & {p.id for p, _ in found})
                latency[label] = (statistics.median(ts), hits / (10 * len(queries)))

        proc, url = start_server(Path(tmp_text) / "served")
        try:
            with Client(url, timeout=600) as client:
                client.collections.create("bench", DIM)
                client.collections.create("bench_arrow", DIM)
                http_times, arrow_times = [], []
                for start in range(0, args.http_rows, BATCH):
                    rows = vectors[start : start + BATCH]
                    points = batches(rows)[0]
                    t0 = time.perf_counter()
                    client.collections.upsert("bench", points)
                    http_times.append(time.perf_counter() - t0)
                    table = pa.table(
                        {
                            "id": [f"p{start + i}" for i in range(len(rows))],
                            "vector": pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel()), DIM),
                            "metadata": [f'{{"bucket": {(start + i) % 100}}}' for i in range(len(rows))],
                        }
                    )
                    t0 = time.perf_counter()
                    client.collections.upsert("bench_arrow", table)
                    arrow_times.append(time.perf_counter() - t0)
            rss = peak_rss_mib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)

    print(f"machine: {os.cpu_count()} cores; {args.rows:,} clustered vectors x {DIM}; cosine")
    print("| measure | figure |")
    print("| --- | --- |")
    print(f"| durable upsert, batches of {BATCH}, in-process (median batch) | {upsert_rate:,.0f} vectors/s |")
    print(
        f"| durable upsert, batches of {BATCH}, over HTTP ({args.http_rows:,} vectors; median batch) | "
        f"{BATCH / statistics.median(http_times):,.0f} vectors/s |"
    )
    print(
        f"| durable upsert, batches of {BATCH}, over HTTP as Arrow IPC ({args.http_rows:,} vectors; median batch) | "
        f"{BATCH / statistics.median(arrow_times):,.0f} vectors/s |"
    )
    print(f"| first search after the upserts (rows in memory, HNSW built) | {first_build:.1f} s |")
    print(f"| restart: first search with the saved index | {with_index:.1f} s |")
    print(f"| restart: first search without it (index built) | {without_index:.1f} s |")
    for label, (seconds, recall) in latency.items():
        print(f"| search k=10, {label}: median latency / recall@10 | {seconds * 1e3:.2f} ms / {recall:.3f} |")
    print(
        f"| memory per vector in the state (rows + HNSW) | "
        f"{described['memory_bytes'] / max(1, described['count']):,.0f} bytes |"
    )
    print(f"| server peak RSS after the HTTP upserts | {rss:.0f} MiB |")


if __name__ == "__main__":
    main()
