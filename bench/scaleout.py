"""Scale-out benchmark: SQL and memory search throughput with one node, then two, on one PostgreSQL and one bucket.

Each node is a `lakehouse up` stack (queryd, pathwayd, catalogd, ingestd behind its gateway) over its own data dir,
sharing a fresh PostgreSQL database (operational DB and lake catalog) and a bucket on a local moto S3 server (lake
data; in its own process). One node is loaded with CLIENTS clients for SECONDS; then both nodes at once, CLIENTS
clients each. The ratio two/one is what a second node adds on this machine: on 2 cores shared by both nodes,
PostgreSQL, the S3 server and the load generator, expect contention, not 2x.

    .venv/bin/python bench/scaleout.py [--rows 200000] [--clients 16] [--seconds 10] [--pg postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import duckdb
import httpx
import sqlalchemy as sa
from _common import GENERATE, free_port, hammer

DAEMONS = ["catalogd", "ingestd", "queryd", "pathwayd"]
SCOPE = {"tenant": "bench", "user_id": "u1"}


def _node(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakehouse", "up", "--data-dir", str(data_dir), "--port", str(port)],
        env={**env, "LAKEHOUSE_STACK__BASE_PORT": str(base)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("a node did not start")


def _load(urls: list[str], path: str, body: bytes, clients: int, seconds: float) -> float:
    """Requests answered per second, all nodes together."""
    results: list[tuple[int, float]] = []

    def one(url: str) -> None:
        answered, elapsed, _ = hammer(url, path, [body], clients, seconds)
        results.append((answered, elapsed))

    threads = [threading.Thread(target=one, args=(url,)) for url in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(n / s for n, s in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--pg", default=os.environ.get("LH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args()

    database = f"lh_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    pg = sa.make_url(args.pg).set(database=database).render_as_string(hide_password=False)
    moto_port = free_port()  # in its own process: not sharing the load generator's interpreter
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{moto_port}"
    for _ in range(300):
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).create_bucket(Bucket="bench")
    env = {
        **os.environ,
        "LAKEHOUSE_OPSDB__URL": pg,
        "LAKEHOUSE_LAKE__CATALOG": "postgres",
        "LAKEHOUSE_LAKE__CATALOG_DSN": pg.replace("postgresql+psycopg://", "postgresql://"),
        "LAKEHOUSE_LAKE__DATA_PATH": "s3://bench/lake",
        "LAKEHOUSE_STORAGE__S3__ENDPOINT": endpoint,
        "LAKEHOUSE_STORAGE__S3__ALLOW_HTTP": "true",
        "LAKEHOUSE_STORAGE__S3__ACCESS_KEY_ID": "x",
        "LAKEHOUSE_STORAGE__S3__SECRET_ACCESS_KEY": "x",
        "LAKEHOUSE_STACK__SERVICES": json.dumps(DAEMONS),
        "LAKEHOUSE_SERVER__LOG_LEVEL": "warning",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="lh-bench-scaleout-") as tmp_text:
            tmp = Path(tmp_text)
            proc_a, url_a = _node(tmp / "a", env)
            procs.append(proc_a)
            proc_b, url_b = _node(tmp / "b", env)
            procs.append(proc_b)
            parquet = tmp / "data.parquet"
            duckdb.connect().execute(f"COPY ({GENERATE.format(rows=args.rows)}) TO '{parquet}' (FORMAT parquet)")
            with httpx.Client(base_url=url_a, timeout=600) as http:
                with parquet.open("rb") as body:
                    http.post(
                        "/v1/datasets/fact/ingest?create=true",
                        content=body,
                        headers={"content-type": "application/vnd.apache.parquet"},
                    ).raise_for_status()
                for i in range(200):
                    http.post(
                        "/v1/memories", json={"scope": SCOPE, "content": f"fact {i}: the customer prefers plan {i % 7}"}
                    ).raise_for_status()
            cases = {
                "SQL point lookup": ("/v1/sql", json.dumps({"sql": "SELECT * FROM fact WHERE id = 4242"}).encode()),
                "memory search": (
                    "/v1/memories/search",
                    json.dumps({"scope": SCOPE, "query": "which plan does the customer prefer", "k": 10}).encode(),
                ),
            }
            for label, (path, body) in cases.items():
                _load([url_a, url_b], path, body, 4, 3.0)  # warm both nodes
                one = _load([url_a], path, body, args.clients, args.seconds)
                two = _load([url_a, url_b], path, body, args.clients, args.seconds)
                print(
                    f"{label:18} one node {one:.0f}/s, two nodes {two:.0f}/s ({two / one:.2f}x), "
                    f"{args.clients} clients per node",
                    flush=True,
                )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        moto.terminate()
        moto.wait(30)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
