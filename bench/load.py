"""Mixed load on one `lakehouse serve` process: do routes that need no embedding stay fast while the model is busy?

64 clients (keep-alive connections, raw asyncio sockets with requests encoded beforehand, so the client's own CPU
stays small on a machine it shares with the server) each send, in turn, a mix of:

- ``GET /health``;
- ``POST /v1/sql``: a point lookup on a 10,000-row dataset;
- ``POST /v1/validate``: an order against a registered schema;
- ``POST /v1/memories``: ADD of a new paragraph (embedded after the ADD returns, by the background warmer);
- ``POST /v1/memories/search``: a new question each time, so the query is embedded on the request's path.

The baseline, measured in the same run on the same server, is the mix without the two memory routes (the model
idle). Reported per route: requests/s, p50 and p99 latency, errors (503 ``overloaded`` counted apart), and the
server's RSS. The server uses the local model (the ``embed`` extra), as `make run` does.

    .venv/bin/python bench/load.py [--seconds 60] [--baseline-seconds 30] [--clients 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from _common import peak_rss_mib, start_server

WORDS = [
    "customer",
    "refund",
    "order",
    "invoice",
    "shipping",
    "delay",
    "warehouse",
    "discount",
    "account",
    "password",
    "reset",
    "billing",
    "cycle",
    "subscription",
    "upgrade",
    "downgrade",
    "support",
    "ticket",
    "escalation",
    "priority",
    "agent",
    "handoff",
    "policy",
    "exception",
    "region",
    "inventory",
    "supplier",
    "contract",
    "renewal",
    "payment",
    "method",
    "card",
    "declined",
    "chargeback",
    "dispute",
    "address",
    "change",
    "delivery",
    "window",
    "courier",
    "tracking",
    "number",
    "damaged",
    "package",
    "replacement",
    "warranty",
    "claim",
    "return",
    "label",
]


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _request(method: str, path: str, host: str, body: object | None = None) -> bytes:
    if body is None:
        return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    data = json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def _mix(host: str, with_memory: bool, count: int, seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    out: list[tuple[str, bytes]] = []
    for i in range(count):
        out.append(("health", _request("GET", "/health", host)))
        lookup = {"sql": "SELECT name, total FROM crm.orders WHERE id = ?", "params": [rng.randrange(10_000)]}
        out.append(("sql", _request("POST", "/v1/sql", host, lookup)))
        order = {"id": i, "total": round(rng.uniform(1, 500), 2), "currency": rng.choice(["EUR", "USD"])}
        out.append(("validate", _request("POST", "/v1/validate", host, {"schema": "order", "payload": order})))
        if with_memory:
            scope = {"tenant": "bench", "user_id": f"u{rng.randrange(20)}"}
            add = {"scope": scope, "content": f"{_sentence(rng, 40)} ({seed}-{i})"}
            out.append(("memory_add", _request("POST", "/v1/memories", host, add)))
            question = {"scope": scope, "query": f"{_sentence(rng, 8)} {seed}-{i}?", "k": 5}
            out.append(("memory_search", _request("POST", "/v1/memories/search", host, question)))
    return out


def run_mix(url: str, mix: list[tuple[str, bytes]], clients: int, seconds: float) -> dict[str, dict[str, float]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    overloaded: dict[str, int] = defaultdict(int)

    async def client(number: int, stop: float) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        i = number * 7
        while time.perf_counter() < stop:
            route, request = mix[i % len(mix)]
            i += 1
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies[route].append(time.perf_counter() - t0)
            if status == 503:
                overloaded[route] += 1
            elif status >= 400:
                errors[route] += 1
        writer.close()

    async def run() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(n, t0 + seconds) for n in range(clients)))
        return time.perf_counter() - t0

    elapsed = asyncio.run(run())
    report: dict[str, dict[str, float]] = {}
    for route, values in sorted(latencies.items()):
        ordered = sorted(values)
        report[route] = {
            "rps": len(values) / elapsed,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "errors": errors[route],
            "overloaded": overloaded[route],
        }
    return report


def _print(title: str, report: dict[str, dict[str, float]], rss: float) -> None:
    total = sum(r["rps"] for r in report.values())
    print(f"\n{title}: {total:.0f} requests/s in all, server peak RSS {rss:.0f} MiB")
    print(f"{'route':<15}{'req/s':>9}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'503':>6}")
    for route, r in report.items():
        print(
            f"{route:<15}{r['rps']:>9.1f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['errors']:>8.0f}{r['overloaded']:>6.0f}"
        )


def _seed(url: str) -> None:
    rows = "".join(
        json.dumps({"id": i, "name": f"customer {i}", "total": round(i * 1.5, 2)}) + "\n" for i in range(10_000)
    )
    httpx.post(
        url + "/v1/datasets/crm.orders/ingest?create=true",
        content=rows.encode(),
        headers={"content-type": "application/x-ndjson"},
        timeout=120,
    ).raise_for_status()
    schema = {
        "type": "object",
        "required": ["id", "total", "currency"],
        "properties": {
            "id": {"type": "integer", "minimum": 0},
            "total": {"type": "number", "exclusiveMinimum": 0},
            "currency": {"enum": ["EUR", "USD", "GBP"]},
        },
    }
    httpx.post(url + "/v1/schemas", json={"name": "order", "schema": schema}, timeout=30).raise_for_status()
    # load the model and the scope's index before measuring
    scope = {"tenant": "bench", "user_id": "u0"}
    httpx.post(url + "/v1/memories", json={"scope": scope, "content": "warm up"}, timeout=300).raise_for_status()
    httpx.post(url + "/v1/memories/search", json={"scope": scope, "query": "warm"}, timeout=300).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "data")
        try:
            _seed(url)
            host = urlsplit(url).netloc
            baseline = run_mix(url, _mix(host, False, 2000, 1), args.clients, args.baseline_seconds)
            _print(
                f"baseline (no embedding routes), {args.clients} clients, {args.baseline_seconds:.0f} s",
                baseline,
                peak_rss_mib(proc.pid),
            )
            loaded = run_mix(url, _mix(host, True, 20_000, 2), args.clients, args.seconds)
            _print(f"mixed load, {args.clients} clients, {args.seconds:.0f} s", loaded, peak_rss_mib(proc.pid))
            print("\np99 under load / p99 of the baseline:")
            for route in baseline:
                print(f"  {route:<12}{loaded[route]['p99_ms'] / baseline[route]['p99_ms']:>6.2f}x")
        finally:
            proc.terminate()
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
