"""Agent memory benchmark, first part: ADD, search and HISTORY latency of ``MemoryStore`` on SQLite and PostgreSQL.

Data: the standard library's documentation paragraphs (bench/corpus.py) as memory contents, spread over SCOPES
scopes (each scope a tenant and a user), MEMORIES in all; their all-MiniLM-L6-v2 embeddings come from bench/.cache
and are put in the embedding cache first, as the store's own warm-up on ADD would, so that search runs on real
embeddings without the hour of CPU that embedding 100k texts takes here. Measured, per operational DB:

- ADD without embedding (the store with no embedder: the write path alone), p50 / p95 over every ADD;
- ADD with embedding (the local model, 200 new texts none of which is cached), p50 / p95;
- search, k=10, semantic + keyword fused, over one scope's memories (queries: held-out paragraphs), p50 / p95;
- HISTORY of a memory with 5 events, p95.

Not here yet: the Mem0 comparison and recall on a labeled set.

    .venv/bin/python bench/memory.py [--memories 100000] [--scopes 100] [--db sqlite,postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from corpus import embedded, stdlib_paragraphs

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.memory import MemoryStore
from lakehouse.opsdb.schema import embedding_cache

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MODEL = "all-MiniLM-L6-v2"


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.median(ordered) * 1e3:.2f} / {p95 * 1e3:.2f} ms"


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def fill_cache(engine: sa.Engine, texts: list[str], vectors: np.ndarray[Any, Any]) -> None:
    now = datetime.now(UTC)
    rows = {
        hashlib.sha256(t.encode()).hexdigest(): v.astype("<f4").tobytes() for t, v in zip(texts, vectors, strict=True)
    }
    with engine.begin() as conn:
        items = list(rows.items())
        for start in range(0, len(items), 5000):
            conn.execute(
                embedding_cache.insert(),
                [
                    {"model": MODEL, "text_sha256": key, "dim": 384, "vector": blob, "created_at": now}
                    for key, blob in items[start : start + 5000]
                ],
            )


def run(label: str, settings: Settings, texts: list[str], vectors: np.ndarray[Any, Any], args: Any) -> list[str]:
    queries, corpus = texts[-200:], texts[:-200]
    with Lakehouse(settings) as lh:
        fill_cache(lh.opsdb, corpus + queries, vectors)
        bare = MemoryStore(lh.opsdb)  # no embedder: the write path alone
        add_times = []
        per_scope = args.memories // args.scopes
        scopes = [{"tenant": f"t{s % 10}", "user_id": f"u{s}"} for s in range(args.scopes)]
        ids: list[str] = []
        for s, scope in enumerate(scopes):
            for i in range(per_scope):
                text = corpus[(s * per_scope + i) % len(corpus)]
                t0 = time.perf_counter()
                memory = bare.add(scope, "fact", text)
                add_times.append(time.perf_counter() - t0)
                if i < 5:
                    ids.append(memory.id)
        fresh = [f"{t} (note {uuid.uuid4().hex[:6]})" for t in queries[:200]]
        lh.memory.add({"tenant": "warm"}, "fact", "load the model")
        with_embedding = [timed(lambda t=t: lh.memory.add(scopes[0], "fact", t)) for t in fresh]
        search_times = [timed(lambda q=q: lh.memory.search(scopes[1], q, k=10)) for q in queries[:100]]
        for memory_id in ids[:50]:
            scope = scopes[ids.index(memory_id) // 5]
            memory = lh.memory.get(memory_id, scope)
            for n in range(4):
                memory = lh.memory.update(memory_id, scope, expected_version=memory.version, tags=[f"t{n}"])
        history_times = [timed(lambda m=m: lh.memory.history(m, scopes[ids.index(m) // 5])) for m in ids[:50]]
    return [
        f"| {label} | ADD without embedding ({len(add_times):,} memories, {args.scopes} scopes) | "
        f"{percentiles(add_times)} |",
        f"| {label} | ADD with embedding (local model, 200 new texts) | {percentiles(with_embedding)} |",
        f"| {label} | search k=10, meaning + words fused, one scope of {per_scope:,} | {percentiles(search_times)} |",
        f"| {label} | HISTORY of a memory with 5 events (p50 / p95) | {percentiles(history_times)} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--scopes", type=int, default=100)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    texts = stdlib_paragraphs()
    vectors, _ = embedded(texts)
    rows = []
    for db in args.db.split(","):
        with tempfile.TemporaryDirectory(prefix="lh-bench-memory-") as tmp:
            values: dict[str, Any] = {"data_dir": Path(tmp) / "data"}
            if db == "postgres":
                name = f"lh_bench_{uuid.uuid4().hex[:8]}"
                admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                values["opsdb"] = {"url": sa.make_url(PG_SERVER).set(database=name).render_as_string(False)}
            try:
                rows += run(db, Settings.model_validate(values), texts, vectors, args)
            finally:
                if db == "postgres":
                    with admin.connect() as conn:
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()
    print(f"{args.memories:,} memories over {args.scopes} scopes; stdlib paragraphs; all-MiniLM-L6-v2 (cached)")
    print("| operational DB | measure | p50 / p95 |")
    print("| --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
