"""Replay benchmark: how fast case files are sent and recordings compared.

- Replay throughput against a `lakehouse serve` for `GET /health` and a SQL point lookup on ROWS rows: `replay()`
  one case at a time and with CONCURRENCY at once (requests/s, p50/p99 of the recorded latencies), next to the same
  requests from a bare keep-alive client (bench/_common.hammer) as the baseline.
- The recording middleware's overhead: SQL point lookups at CONCURRENCY clients for SECONDS, recording off and on
  (twice each, alternating, medians). Target: 10 % or less.
- The diff of PAIRS recorded pairs (memory-like answers with generated ids and times, and problem bodies), with a
  secondary recording (three-way, Diffy's noise) and without (two-way). Target: 100,000 pairs in 30 s or less.

    .venv/bin/python bench/replay.py [--rows 1000000] [--cases 2000] [--concurrency 16] [--pairs 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import httpx
from _common import GENERATE, hammer, start_server

from lakehouse.replay import Body, Exchange, RecordedRequest, RecordedResponse, compare, replay


def _case(i: int, method: str, path: str, body: dict[str, object] | None) -> Exchange:
    return Exchange(
        id=f"c{i}",
        request=RecordedRequest(
            method=method,
            path=path,
            headers={"content-type": "application/json"} if body is not None else {},
            body=Body.model_validate({"json": body, "is_json": True}) if body is not None else Body(),
        ),
    )


def _recording(seed: int, pairs: int) -> list[Exchange]:
    rng = random.Random(seed)
    out = []
    for i in range(pairs):
        if i % 5 == 0:
            body: dict[str, object] = {
                "type": "urn:lakehouse:problem:invalid_payload",
                "status": 422,
                "detail": "payload: 'id' is a required property",
                "request_id": f"{rng.getrandbits(128):032x}",
                "errors": [{"kind": "required", "field": "id", "pointer": "/id", "reason": "required"}],
            }
            status, content_type = 422, "application/problem+json"
        else:
            body = {
                "id": f"{rng.getrandbits(128):032x}",
                "scope": {"tenant": "acme", "user_id": f"u{i % 50}"},
                "kind": "fact",
                "content": f"fact {i}",
                "tags": ["a", "b"],
                "version": 1,
                "created_at": f"2026-12-07T08:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z",
            }
            status, content_type = 200, "application/json"
        out.append(
            Exchange(
                id=f"c{i}",
                request=RecordedRequest(method="GET", path=f"/v1/memories/{i}"),
                response=RecordedResponse(
                    status=status,
                    headers={"content-type": content_type},
                    body=Body.model_validate({"json": body, "is_json": True}),
                ),
            )
        )
    return out


def _ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="Each throughput run of the recording overhead.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lh-bench-replay-") as tmp_text:
        tmp = Path(tmp_text)
        proc, url = start_server(tmp / "lh")
        try:
            parquet = tmp / "data.parquet"
            duckdb.connect().execute(f"COPY ({GENERATE.format(rows=args.rows)}) TO '{parquet}' (FORMAT parquet)")
            with httpx.Client(base_url=url, timeout=600) as http, parquet.open("rb") as body:
                http.post(
                    "/v1/datasets/fact/ingest?create=true",
                    content=body,
                    headers={"content-type": "application/vnd.apache.parquet"},
                ).raise_for_status()
            point = {"sql": "SELECT * FROM fact WHERE id = 4242"}
            workloads = {
                "GET /health": ([_case(i, "GET", "/health", None) for i in range(args.cases * 5)], "GET", b""),
                "SQL point lookup": (
                    [_case(i, "POST", "/v1/sql", point) for i in range(args.cases)],
                    "POST",
                    json.dumps(point).encode(),
                ),
            }
            for label, (cases, method, raw_body) in workloads.items():
                list(replay(cases[:50], url))  # warm
                path = cases[0].request.path
                for concurrency in (1, args.concurrency):
                    started = time.perf_counter()
                    answered = list(replay(cases, url, concurrency=concurrency))
                    elapsed = time.perf_counter() - started
                    assert all(e.response is not None and e.response.status == 200 for e in answered)
                    latencies = [e.latency_ms or 0.0 for e in answered]
                    n, seconds, base = hammer(url, path, [raw_body], concurrency, max(3.0, elapsed), method=method)
                    base_ms = [b * 1000 for b in base]
                    ratio = len(cases) / elapsed / (n / seconds)
                    print(
                        f"{label:17} x{concurrency:<2} replay {len(cases) / elapsed:7.0f}/s "
                        f"p50 {_ms(latencies, 50):6.2f} ms p99 {_ms(latencies, 99):6.2f} ms | bare client "
                        f"{n / seconds:7.0f}/s p50 {_ms(base_ms, 50):6.2f} ms | ratio {ratio:.2f}",
                        flush=True,
                    )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)

        # the recording middleware's cost: the same lookups at 16 clients, recording off, then on (same data dir)
        body = json.dumps({"sql": "SELECT * FROM fact WHERE id = 4242"}).encode()
        rates = {}
        for recording in ("false", "true", "false", "true"):
            proc, url = start_server(tmp / "lh", {"LAKEHOUSE_RECORD__ENABLED": recording})
            try:
                hammer(url, "/v1/sql", [body], args.concurrency, 2.0)  # warm
                n, seconds, _ = hammer(url, "/v1/sql", [body], args.concurrency, args.seconds)
                rates.setdefault(recording, []).append(n / seconds)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        off, on = statistics.median(rates["false"]), statistics.median(rates["true"])
        print(
            f"recording overhead, SQL point lookup at {args.concurrency} clients: off {off:.0f}/s, on {on:.0f}/s "
            f"({(1 - on / off) * 100:+.1f}% fewer; target ≤ 10%)",
            flush=True,
        )

    primary, candidate, secondary = (_recording(seed, args.pairs) for seed in (1, 2, 3))
    for label, third in (("three-way (with a secondary)", secondary), ("two-way", None)):
        started = time.perf_counter()
        report = compare(primary, candidate, third)
        elapsed = time.perf_counter() - started
        print(
            f"diff of {args.pairs:,} pairs, {label}: {elapsed:.1f} s ({args.pairs / elapsed:,.0f} pairs/s), "
            f"{len(report.fields)} fields differed, {report.differences} reported (target: ≤ 30 s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
