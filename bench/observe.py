"""Observation benchmark: OTLP protobuf ingest over HTTP into a running `lakehouse serve`, in batches of 512 spans
with GenAI attributes, by several exporters at once; then reads at the size reached: one trace, a filtered list,
and cost per session over all spans in SQL. Arize Phoenix (`arize-phoenix`, its own OTLP HTTP endpoint on SQLite)
takes the same batches in the same run when it is installed, for the ratio.

    .venv/bin/python bench/observe.py [--spans 200000] [--clients 4] [--decode-workers N]
        [--phoenix | --phoenix-python PATH] [--phoenix-spans 20480]

Each batch is 64 traces of 8 spans (an agent span, chat calls with model, tokens and messages, tools, a
retriever), encoded once per batch by the OpenTelemetry proto classes; ids are new in every batch, and batches
follow each other in time as an exporter's do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

BASE_NS = (int(time.time()) - 86_400) * 10**9  # the bench's spans start a day ago
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "gemini-2.5-flash"]


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def batch(seed: int, traces: int = 64, per_trace: int = 8) -> bytes:
    rng = random.Random(seed)
    now = BASE_NS + seed * 64 * 10**9  # a stream: each batch's runs start after the previous batch's
    spans = []
    for t in range(traces):
        trace_id = rng.randbytes(16)
        root_id = rng.randbytes(8)
        session = f"s-{seed % 500}-{t % 8}"
        start = now + t * 10**9
        for n in range(per_trace):
            span_id = root_id if n == 0 else rng.randbytes(8)
            kind = "invoke_agent" if n == 0 else ("execute_tool" if n % 3 == 0 else "chat")
            attrs = [_kv("gen_ai.operation.name", kind), _kv("session.id", session), _kv("user.id", f"u{t % 50}")]
            if kind == "chat":
                attrs += [
                    _kv("gen_ai.request.model", rng.choice(MODELS)),
                    _kv("gen_ai.usage.input_tokens", rng.randrange(100, 4000)),
                    _kv("gen_ai.usage.output_tokens", rng.randrange(10, 800)),
                    _kv("gen_ai.input.messages", '[{"role": "user", "content": "plan a trip to Lisbon in May"}]'),
                    _kv("gen_ai.output.messages", '[{"role": "assistant", "content": "Day 1: Alfama, Day 2: Belem"}]'),
                ]
            spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=span_id,
                    parent_span_id=b"" if n == 0 else root_id,
                    name=f"{kind} {n}",
                    start_time_unix_nano=start + n * 10**7,
                    end_time_unix_nano=start + n * 10**7 + rng.randrange(10**6, 10**9),
                    attributes=attrs,
                )
            )
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={"attributes": [_kv("service.name", "bench-agent")]},
                scope_spans=[ScopeSpans(scope={"name": "bench"}, spans=spans)],
            )
        ]
    )
    return request.SerializeToString()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}") from None
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ingest(url: str, total_spans: int, clients: int, seed0: int) -> tuple[float, int]:
    """Send batches of 512 spans from ``clients`` threads until ``total_spans``; spans/s and the count sent."""
    batches = total_spans // 512
    bodies: list[bytes] = []
    maker = threading.Thread(target=lambda: bodies.extend(batch(seed0 + i) for i in range(batches)))
    maker.start()
    maker.join()  # encoded before the clock starts: the client's encoding is not the server's work
    headers = {"content-type": "application/x-protobuf"}
    with httpx.Client(timeout=120) as http:
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for answer in pool.map(lambda body: http.post(url, content=body, headers=headers), bodies):
                answer.raise_for_status()
        elapsed = time.perf_counter() - start
    return batches * 512 / elapsed, batches * 512


def reads(base: str, samples: int = 50) -> dict[str, float]:
    with httpx.Client(base_url=base, timeout=120) as http:
        listed = http.get("/v1/traces", params={"limit": 200}).json()["items"]
        ids = [t["trace_id"] for t in listed]
        times = []
        for trace_id in ids[:samples]:
            start = time.perf_counter()
            http.get(f"/v1/traces/{trace_id}").raise_for_status()
            times.append(time.perf_counter() - start)
        filtered = []
        for n in range(10):
            start = time.perf_counter()
            http.get("/v1/traces", params={"user_id": f"u{n}", "limit": 50}).raise_for_status()
            filtered.append(time.perf_counter() - start)
        sql = "SELECT session_id, sum(cost) AS cost, count(*) FROM observe.spans GROUP BY session_id ORDER BY cost DESC"
        costs = []
        for _ in range(5):
            start = time.perf_counter()
            http.post("/v1/sql", json={"sql": sql, "max_rows": 10}).raise_for_status()
            costs.append(time.perf_counter() - start)
    return {
        "trace_p50_ms": statistics.median(times) * 1e3,
        "list_filtered_p50_ms": statistics.median(filtered) * 1e3,
        "cost_per_session_sql_ms": statistics.median(costs) * 1e3,
    }


def lakehouse(spans: int, clients: int, decode_workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="lh-bench-observe-") as tmp:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "lakehouse", "serve", "--port", str(port), "--data-dir", f"{tmp}/data"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "LAKEHOUSE_OBSERVE__DECODE_WORKERS": str(decode_workers)},
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base + "/health", proc)
            rate, sent = ingest(base + "/v1/traces", spans, clients, 0)
            tasks = Path(f"/proc/{proc.pid}/task").iterdir()  # a thread's children are listed under that thread
            workers = [int(pid) for task in tasks for pid in (task / "children").read_text().split()]
            out = {
                "spans_per_s": rate,
                "spans": float(sent),
                "peak_rss_mb": rss_mb(proc.pid) + sum(rss_mb(pid) for pid in workers),
            }
            out.update(reads(base))
            return out
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def phoenix(spans: int, clients: int, python: str | None) -> dict[str, float] | None:
    """The same batches into Arize Phoenix's OTLP HTTP endpoint (SQLite in a temp dir), run by ``python`` (an
    interpreter of a venv with `arize-phoenix`: it pins its own versions of shared packages), else by this one
    when it has Phoenix."""
    import importlib.util

    if python is None and importlib.util.find_spec("phoenix") is None:
        print("phoenix: not installed (pip install arize-phoenix, or --phoenix-python)", flush=True)
        return None
    with tempfile.TemporaryDirectory(prefix="lh-bench-phoenix-") as tmp:
        port = _free_port()
        env = {**os.environ, "PHOENIX_WORKING_DIR": tmp, "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": "0"}
        proc = subprocess.Popen(
            [python or sys.executable, "-m", "phoenix.server.main", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(f"http://127.0.0.1:{port}/", proc)
            start = time.perf_counter()
            rate, sent = ingest(f"http://127.0.0.1:{port}/v1/traces", spans, clients, 0)
            # Phoenix answers an export before it writes it (its spans go to a queue that a bulk inserter drains):
            # its rate is taken to the moment its database holds them all, as ours is (we answer after the commit)
            stored = _phoenix_stored(Path(tmp) / "phoenix.db", sent, proc)
            durable = sent / (stored - start)
            return {
                "spans_per_s": durable,
                "accepted_per_s": rate,
                "spans": float(sent),
                "peak_rss_mb": rss_mb(proc.pid),
            }
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def _phoenix_stored(database: Path, expected: int, proc: subprocess.Popen[bytes], seconds: float = 600) -> float:
    """When Phoenix's SQLite database holds ``expected`` spans (time.perf_counter())."""
    import sqlite3

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"phoenix exited with {proc.returncode}")
        try:
            with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
                (count,) = db.execute("SELECT count(*) FROM spans").fetchone()
        except sqlite3.Error:
            count = 0
        if count >= expected:
            return time.perf_counter()
        time.sleep(0.05)
    raise SystemExit(f"phoenix did not store {expected} spans in {seconds} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--decode-workers", type=int, default=0, help="the server's observe.decode_workers (0: exports read in-process)"
    )
    parser.add_argument("--phoenix", action="store_true", help="measure Arize Phoenix too")
    parser.add_argument("--phoenix-python", help="the interpreter of a venv that has arize-phoenix (implies --phoenix)")
    parser.add_argument(
        "--phoenix-spans", type=int, default=20_480, help="spans sent to Phoenix (it stores about 100 a second here)"
    )
    args = parser.parse_args()
    ours = lakehouse(args.spans, args.clients, args.decode_workers)
    wanted = args.phoenix or args.phoenix_python
    theirs = phoenix(args.phoenix_spans, args.clients, args.phoenix_python) if wanted else None
    print(
        f"\nOTLP protobuf, batches of 512 spans, {args.clients} clients, {int(ours['spans']):,} spans, "
        f"decode_workers {args.decode_workers}"
    )
    print(f"lakehouse: {ours['spans_per_s']:,.0f} spans/s, peak RSS {ours['peak_rss_mb']:.0f} MB (workers included)")
    if theirs:
        print(
            f"phoenix:   {theirs['spans_per_s']:,.0f} spans/s stored ({theirs['accepted_per_s']:,.0f} answered), "
            f"{int(theirs['spans']):,} spans, peak RSS {theirs['peak_rss_mb']:.0f} MB; "
            f"ratio {ours['spans_per_s'] / theirs['spans_per_s']:.1f}x"
        )
    print(
        f"at {int(ours['spans']):,} spans: GET /v1/traces/{{id}} p50 {ours['trace_p50_ms']:.1f} ms, "
        f"list filtered by user p50 {ours['list_filtered_p50_ms']:.1f} ms, "
        f"cost per session in SQL {ours['cost_per_session_sql_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
