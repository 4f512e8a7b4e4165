"""Memory search under load, as bench/embed.py measures it: a scope of 200 memories (the labeled facts), searches
one at a time with new questions (p50 / p95), and 16 threads searching at once (searches/s).

It uses only the library's long-standing API (``Settings``, ``Lakehouse``, ``AddMemory``, ``MemorySearch``,
``Scope``), so the same code measures an earlier checkout of the project in the same run: run as a script with that
checkout's ``src`` first on ``PYTHONPATH``, it measures it with its default settings and prints the figures as JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from memory_facts import labeled_facts

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.memory import AddMemory, MemorySearch, Scope


def p50_p95(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1e3, ordered[int(0.95 * (len(ordered) - 1))] * 1e3


def questions() -> list[str]:
    return [q for scope in range(60) for _, q in labeled_facts(scope, 20)]


def fill(lh: Lakehouse) -> Scope:
    """200 memories in one scope, embedded before it returns."""
    scope = Scope(tenant="bench", user_id="u1")
    for text in [f for s in range(10) for f, _ in labeled_facts(s, 20)]:
        lh.memory.add(AddMemory(scope=scope, content=text))
    lh.memory.flush()
    return scope


def searches(lh: Lakehouse, scope: Scope, asked: list[str]) -> list[float]:
    times = []
    for question in asked:
        start = time.perf_counter()
        lh.memory.search(MemorySearch(scope=scope, query=question, k=10))
        times.append(time.perf_counter() - start)
    return times


def concurrent_rate(lh: Lakehouse, scope: Scope, asked: list[str], threads: int = 16) -> float:
    chunks = [asked[i::threads] for i in range(threads)]
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda chunk: searches(lh, scope, chunk), chunks))
    return len(asked) / (time.perf_counter() - start)


def measure(lh: Lakehouse, scope: Scope, tag: str) -> dict[str, Any]:
    """Search p50 / p95 over 200 new questions, then 16 threads over 640 more (each question made new by ``tag``)."""
    asked = questions()
    searches(lh, scope, ["warm up"])
    return {
        "search": p50_p95(searches(lh, scope, [f"{q} ({tag} 1)" for q in asked[:200]])),
        "concurrent": concurrent_rate(lh, scope, [f"{q} ({tag} 2)" for q in asked[:640]]),
    }


if __name__ == "__main__":
    with (
        tempfile.TemporaryDirectory(prefix="lh-bench-before-") as tmp,
        Lakehouse(Settings.model_validate({"data_dir": Path(tmp) / "data"})) as lh,
    ):
        print(json.dumps(measure(lh, fill(lh), sys.argv[1] if len(sys.argv) > 1 else "before")))
