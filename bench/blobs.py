"""Blob store benchmark: HTTP PUT/GET through `lakehouse serve` against baselines measured in the same run.

Baselines: raw file write (+fsync+rename) and read of the same bytes, and the in-process library
(`LocalBlobStore`) without HTTP. Also the server's peak RSS while a large blob streams in, which shows uploads are
not buffered in memory. Prints medians and ratios; copy the table into bench/RESULTS.md.

`--s3-key-rule` measures instead what the key rule costs an S3 upload (a HEAD per parent and a LIST before each
PUT, so that S3 refuses `a/b` under a blob `a` as a directory must): `S3BlobStore.put_bytes` of small blobs on a
moto server against the bare obstore PUT of the same bytes to the same paths, alternating, medians.

    .venv/bin/python bench/blobs.py [--big-mib 1024] [--repeat 5]
    .venv/bin/python bench/blobs.py --s3-key-rule [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from _common import median_seconds, peak_rss_mib, start_server

from lakehouse.blobs import LocalBlobStore

MiB = 1024 * 1024


def raw_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as f:
        for i in range(0, len(data), MiB):
            f.write(data[i : i + MiB])
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def bench_listing(tmp: Path, n_dirs: int = 200, per_dir: int = 100, repeat: int = 5) -> str:
    """A page of 100 keys from a bucket of n_dirs * per_dir blobs vs walking and sorting the whole bucket."""
    store = LocalBlobStore(tmp / "listing")
    bucket = tmp / "listing" / "bkt"
    for d in range(n_dirs):
        (bucket / f"d{d:04}").mkdir(parents=True)
        for f in range(per_dir):
            (bucket / f"d{d:04}" / f"f{f:04}").write_bytes(b"x")
    total = n_dirs * per_dir

    def full_walk() -> list[str]:
        keys = [f"{Path(dp).relative_to(bucket).as_posix()}/{f}" for dp, _, fs in os.walk(bucket) for f in fs]
        return sorted(keys)

    middle = full_walk()[total // 2]
    first = median_seconds(lambda: asyncio.run(store.list("bkt", limit=100)), repeat)
    from lakehouse.paging import encode_cursor

    deep = median_seconds(lambda: asyncio.run(store.list("bkt", cursor=encode_cursor(middle), limit=100)), repeat)
    walk = median_seconds(full_walk, repeat)
    return (
        f"list a page of 100 from {total} blobs: first page {first * 1e3:.1f} ms, page at the middle "
        f"{deep * 1e3:.1f} ms; baseline walk+sort of the whole bucket {walk * 1e3:.1f} ms "
        f"({walk / first:.0f}x / {walk / deep:.0f}x the page)"
    )


def bench_s3_key_rule(repeat: int, n: int = 100) -> str:
    """Small S3 uploads (1 KiB, keys three segments deep) through the store, key rule included, vs bare PUTs."""
    import uuid

    import boto3
    import obstore
    from moto.server import ThreadedMotoServer

    from lakehouse.blobs import S3BlobStore
    from lakehouse.blobs.s3 import make_s3_store
    from lakehouse.config import S3Settings

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        creds = {"aws_access_key_id": "t", "aws_secret_access_key": "t", "region_name": "us-east-1"}
        boto3.client("s3", endpoint_url=endpoint, **creds).create_bucket(Bucket=bucket)
        settings = S3Settings.model_validate(
            {"bucket": bucket, "endpoint": endpoint, "access_key_id": "t", "secret_access_key": "t", "allow_http": True}
        )
        store, bare = S3BlobStore(settings), make_s3_store(settings)
        rule_off = S3BlobStore(settings)

        async def no_check(bucket: str, key: str) -> None:
            return None

        rule_off._refuse_key_conflict = no_check  # type: ignore[method-assign]
        data = os.urandom(1024)

        def through_store(round_: int) -> None:
            async def go() -> None:
                for i in range(n):
                    await store.put_bytes("bench", f"r{round_}/d{i % 10}/k{i}", data)

            asyncio.run(go())

        def without_rule(round_: int) -> None:
            async def go() -> None:
                for i in range(n):
                    await rule_off.put_bytes("bench", f"o{round_}/d{i % 10}/k{i}", data)

            asyncio.run(go())

        def bare_put(round_: int) -> None:
            async def go() -> None:
                for i in range(n):
                    await obstore.put_async(bare, f"lakehouse/bench/b{round_}/d{i % 10}/k{i}", data)

            asyncio.run(go())

        times: dict[str, list[float]] = {"store": [], "rule_off": [], "bare": []}
        for round_ in range(repeat):
            for name, fn in (("store", through_store), ("rule_off", without_rule), ("bare", bare_put)):
                t0 = time.perf_counter()
                fn(round_)
                times[name].append((time.perf_counter() - t0) / n)
        store_s, off_s, bare_s = (sorted(times[k])[repeat // 2] for k in ("store", "rule_off", "bare"))
        return (
            f"S3 (moto) 1 KiB PUT, keys 3 deep, {n} x {repeat} rounds, medians per PUT: the store with the key rule "
            f"{store_s * 1e3:.2f} ms, without it {off_s * 1e3:.2f} ms (the rule: {store_s / off_s:.2f}x), "
            f"bare obstore PUT {bare_s * 1e3:.2f} ms"
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the streaming upload for peak RSS")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--s3-key-rule", action="store_true", help="only what the key rule costs an S3 upload")
    args = parser.parse_args()
    if args.s3_key_rule:
        print(bench_s3_key_rule(args.repeat))
        return

    with tempfile.TemporaryDirectory(prefix="lh-bench-") as tmp_text:
        tmp = Path(tmp_text)
        proc, url = start_server(tmp / "server")
        http = httpx.Client(base_url=url, timeout=120)
        store = LocalBlobStore(tmp / "library")
        rows = []
        try:
            for label, size in (("4 KiB", 4096), ("64 MiB", 64 * MiB)):
                data = os.urandom(size)
                n = 50 if size < MiB else 1

                def http_put(data: bytes = data, n: int = n) -> None:
                    for i in range(n):
                        assert http.put(f"/v1/blobs/bench/k{i}", content=data).status_code == 201

                def http_get(n: int = n) -> None:
                    for i in range(n):
                        assert http.get(f"/v1/blobs/bench/k{i}").status_code == 200

                def lib_put(data: bytes = data, n: int = n) -> None:
                    for i in range(n):
                        asyncio.run(store.put_bytes("bench", f"k{i}", data))

                def raw_put(data: bytes = data, n: int = n) -> None:
                    for i in range(n):
                        raw_write(tmp / f"raw{i}", data)

                def raw_get(n: int = n) -> None:
                    for i in range(n):
                        (tmp / f"raw{i}").read_bytes()

                t = {
                    name: median_seconds(fn, args.repeat) / n
                    for name, fn in (
                        ("raw_put", raw_put),
                        ("lib_put", lib_put),
                        ("http_put", http_put),
                        ("raw_get", raw_get),
                        ("http_get", http_get),
                    )
                }
                rows.append((label, size, t))

            big = args.big_mib * MiB

            def chunks() -> Iterator[bytes]:
                block = os.urandom(MiB)
                for _ in range(args.big_mib):
                    yield block

            rss_before = peak_rss_mib(proc.pid)
            t0 = time.perf_counter()
            r = http.put("/v1/blobs/bench/big", content=chunks())
            big_seconds = time.perf_counter() - t0
            assert r.status_code == 201 and r.json()["size"] == big, r.text
            rss_after = peak_rss_mib(proc.pid)
        finally:
            http.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)

    print("| blob size | op | raw disk | library in-process | HTTP (lakehouse serve) | HTTP / raw |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, size, t in rows:

        def fmt(s: float, size: int = size) -> str:
            return f"{s * 1e3:.2f} ms" if size < MiB else f"{size / MiB / s:.0f} MiB/s"

        print(
            f"| {label} | PUT | {fmt(t['raw_put'])} | {fmt(t['lib_put'])} | {fmt(t['http_put'])} | "
            f"{t['http_put'] / t['raw_put']:.2f}x time |"
        )
        print(
            f"| {label} | GET | {fmt(t['raw_get'])} | - | {fmt(t['http_get'])} | "
            f"{t['http_get'] / t['raw_get']:.2f}x time |"
        )
    print()
    with tempfile.TemporaryDirectory(prefix="lh-bench-list-") as tmp_text:
        print(bench_listing(Path(tmp_text)))
    print(
        f"streaming PUT of {args.big_mib} MiB: {args.big_mib / big_seconds:.0f} MiB/s; server peak RSS "
        f"{rss_before:.0f} MiB before, {rss_after:.0f} MiB after (+{rss_after - rss_before:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
