"""Stack benchmark: what the gateway costs, measured side by side with the daemon it forwards to.

The stack's processes are started as `lakehouse up` starts them (`serve --only NAME --behind-gateway`, and
`serve --gateway` in front) with a secret this script knows, so that the same daemon can be asked directly (with
the secret, as the gateway asks it) and through the gateway. For `/health`, a SQL point lookup on a dataset of
ROWS rows and a memory search (the local model; the query's embedding cached after the first), it reports:

- latency one request at a time, direct and through the gateway alternately, over ROUNDS rounds: p50 of each and
  the median of the paired differences (what one hop adds);
- throughput at 16 clients for SECONDS each, direct then through the gateway, and their ratio.

`/health` through the gateway is the gateway's own (it is not forwarded). Then a 1 GiB blob is PUT and GET through
the gateway, streamed both ways, with the gateway's peak RSS before and after.

    .venv/bin/python bench/stack.py [--rows 1000000] [--rounds 300] [--seconds 10] [--blob-mib 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
from _common import GENERATE, free_port, hammer, peak_rss_mib

from lakehouse.config import DAEMONS as ALL_DAEMONS

SECRET = "bench-stack-secret"
DAEMONS = ["storaged", "catalogd", "ingestd", "queryd", "pathwayd"]
SCOPE = {"tenant": "bench", "user_id": "u1"}


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "lakehouse", "serve", *args, "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(url: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


def _block_of_ports(size: int) -> int:
    while True:
        base = free_port()
        if base + size < 65000:
            return base


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--blob-mib", type=int, default=1024)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lh-bench-stack-") as tmp_text:
        tmp = Path(tmp_text)
        base = _block_of_ports(12)
        env = {
            **os.environ,
            "LAKEHOUSE_DATA_DIR": str(tmp / "lh"),
            "LAKEHOUSE_STACK__SECRET": SECRET,
            "LAKEHOUSE_STACK__SERVICES": json.dumps(DAEMONS),
            "LAKEHOUSE_STACK__BASE_PORT": str(base),
        }
        # the stores are made once, as the supervisor does, before the daemons start
        subprocess.run([sys.executable, "-m", "lakehouse", "sql", "SELECT 1"], env=env, check=True, capture_output=True)
        ports = {name: base + 1 + ALL_DAEMONS.index(name) for name in DAEMONS}  # as stack.port() places them
        procs = {
            name: _start(["--only", name, "--behind-gateway", "--port", str(port)], env) for name, port in ports.items()
        }
        gateway_port = base
        procs["gateway"] = _start(["--gateway", "--port", str(gateway_port)], env)
        try:
            for port in ports.values():
                _wait(f"http://127.0.0.1:{port}")
            gateway = f"http://127.0.0.1:{gateway_port}"
            _wait(gateway)
            parquet = tmp / "data.parquet"
            duckdb.connect().execute(f"COPY ({GENERATE.format(rows=args.rows)}) TO '{parquet}' (FORMAT parquet)")
            with httpx.Client(base_url=gateway, timeout=600) as http:
                with parquet.open("rb") as body:
                    answer = http.post(
                        "/v1/datasets/fact/ingest?create=true",
                        content=body,
                        headers={"content-type": "application/vnd.apache.parquet"},
                    )
                    answer.raise_for_status()
                for i in range(200):
                    http.post(
                        "/v1/memories",
                        json={"scope": SCOPE, "content": f"fact number {i}: the customer prefers plan {i % 7}"},
                    ).raise_for_status()
            secret = {"X-Lakehouse-Gateway": SECRET}
            cases = {
                "/health": ("GET", "/health", b"", ports["queryd"]),
                "SQL point lookup": (
                    "POST",
                    "/v1/sql",
                    json.dumps({"sql": "SELECT * FROM fact WHERE id = 4242"}).encode(),
                    ports["queryd"],
                ),
                "memory search": (
                    "POST",
                    "/v1/memories/search",
                    json.dumps({"scope": SCOPE, "query": "which plan does the customer prefer", "k": 10}).encode(),
                    ports["pathwayd"],
                ),
            }
            results = {}
            with httpx.Client(timeout=60) as http:
                for label, (method, path, body, port) in cases.items():
                    direct_url, gateway_url = f"http://127.0.0.1:{port}{path}", gateway + path

                    def once(url: str, headers: dict[str, str], method: str = method, body: bytes = body) -> float:
                        t0 = time.perf_counter()
                        answer = http.request(
                            method, url, content=body or None, headers={**headers, "content-type": "application/json"}
                        )
                        took = time.perf_counter() - t0
                        answer.raise_for_status()
                        return took

                    for _ in range(20):  # warm: connections, caches, the query's embedding
                        once(direct_url, secret)
                        once(gateway_url, {})
                    direct, through = [], []
                    for i in range(args.rounds):
                        pair = [(direct, direct_url, secret), (through, gateway_url, {})]
                        for into, url, headers in pair if i % 2 else reversed(pair):
                            into.append(once(url, headers))
                    diffs = [b - a for a, b in zip(direct, through, strict=True)]
                    bodies = [body]
                    d_n, d_s, _ = hammer(
                        f"http://127.0.0.1:{port}",
                        path,
                        bodies,
                        args.clients,
                        args.seconds,
                        method=method,
                        headers=secret,
                    )
                    g_n, g_s, _ = hammer(gateway, path, bodies, args.clients, args.seconds, method=method)
                    results[label] = {
                        "direct_p50_ms": statistics.median(direct) * 1000,
                        "gateway_p50_ms": statistics.median(through) * 1000,
                        "added_p50_ms": statistics.median(diffs) * 1000,
                        "direct_rps": d_n / d_s,
                        "gateway_rps": g_n / g_s,
                    }
                    r = results[label]
                    print(
                        f"{label:18} p50 direct {r['direct_p50_ms']:.2f} ms, gateway {r['gateway_p50_ms']:.2f} ms, "
                        f"added {r['added_p50_ms']:+.2f} ms | {args.clients} clients: direct {r['direct_rps']:.0f}/s, "
                        f"gateway {r['gateway_rps']:.0f}/s ({r['gateway_rps'] / r['direct_rps']:.0%})",
                        flush=True,
                    )

            # a blob through the gateway, streamed both ways
            gateway_pid = procs["gateway"].pid
            before = peak_rss_mib(gateway_pid)
            block = hashlib.sha256(b"bench").digest() * 32768  # 1 MiB
            digest = hashlib.sha256()

            def upload() -> Iterator[bytes]:
                for _ in range(args.blob_mib):
                    digest.update(block)
                    yield block

            t0 = time.perf_counter()
            put = httpx.put(
                gateway + "/v1/blobs/bench-stack/big.bin",
                content=upload(),
                headers={"content-type": "application/octet-stream"},
                timeout=600,
            )
            put.raise_for_status()
            put_s = time.perf_counter() - t0
            assert put.json()["sha256"] == digest.hexdigest()
            t0 = time.perf_counter()
            got = hashlib.sha256()
            with httpx.stream("GET", gateway + "/v1/blobs/bench-stack/big.bin", timeout=600) as answer:
                for chunk in answer.iter_raw():
                    got.update(chunk)
            get_s = time.perf_counter() - t0
            assert got.hexdigest() == digest.hexdigest()
            after = peak_rss_mib(gateway_pid)
            mib = args.blob_mib
            print(
                f"blob {mib} MiB through the gateway: PUT {mib / put_s:.0f} MiB/s, GET {mib / get_s:.0f} MiB/s; "
                f"gateway peak RSS {before:.0f} MiB before, {after:.0f} MiB after",
                flush=True,
            )
        finally:
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
