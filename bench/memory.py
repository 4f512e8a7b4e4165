"""Agent memory benchmark: ADD, search and HISTORY of ``MemoryStore`` on SQLite and PostgreSQL, side by side with
Mem0 (open source, ``mem0ai``) on the same data and questions in the same run.

Data: MEMORIES memories over SCOPES scopes (each a tenant and a user). Their contents are the standard library's
documentation paragraphs (bench/corpus.py), except that the first LABELED_SCOPES scopes each hold 20 facts about
people with a paraphrased question for each (bench/memory_facts.py): the labeled set for recall@10. Paragraph
embeddings come from bench/.cache and the facts' are computed here, all by the local all-MiniLM-L6-v2; both systems
are loaded with those same vectors through their own write paths (the lakehouse: ADD, with the embeddings in its
cache as its own warm-up on ADD puts them; Mem0: ``Memory._create_memory``, what ``add(infer=False)`` calls after
embedding) so that loading does not take the hour of CPU embedding 100k texts takes here.

Measured (p50 / p95, one call at a time):

- ADD without embedding (the lakehouse's write path alone, over the whole load);
- ADD with embedding: 100 new texts, the local model embedding each before the ADD returns (the lakehouse with
  ``memory.embed_on_write = "inline"``; Mem0: ``add(..., infer=False)``), and 100 more ADDs the lakehouse's default
  way (embedded after the ADD returns, in batches), with the time until all of them were embedded;
- search k=10 with the paraphrased questions, new texts each, so both embed the query with the model; the
  lakehouse fuses meaning and words (Mem0 ranks by meaning: its BM25 needs the ``fastembed`` extra, whose model
  is downloaded at run time); and recall@10 of the labeled fact;
- the lakehouse's search again with the same questions (query embeddings now cached: the index's own cost), and
  the first search of a scope (the index reads the scope);
- HISTORY of a memory with 5 events.

Mem0 runs with its defaults otherwise: the local Qdrant vector store (in a temporary directory) and its SQLite
history. ``MEM0_TELEMETRY=False`` (no network here).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/memory.py [--memories 100000] [--scopes 100] [--db sqlite,postgres] [--no-mem0]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from corpus import CACHE, embedded, stdlib_paragraphs
from memory_facts import labeled_facts

from lakehouse.config import EmbedSettings, MemorySettings, Settings
from lakehouse.core import Lakehouse
from lakehouse.embed.local import LocalEmbedder
from lakehouse.memory import AddMemory, ChangeMemory, MemorySearch, MemoryStore, Scope
from lakehouse.opsdb.schema import embedding_cache

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MODEL = "all-MiniLM-L6-v2"
LABELED_SCOPES = 10
FACTS_PER_SCOPE = 20
NEW_TEXTS = 200


def p50_p95(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1e3, ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1e3


def fmt(times: list[float]) -> str:
    p50, p95 = p50_p95(times)
    return f"{p50:.2f} / {p95:.2f} ms"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


@dataclass
class Workload:
    scopes: list[dict[str, str]]
    contents: list[list[str]]  # per scope
    vectors: dict[str, np.ndarray[Any, Any]]  # content -> embedding
    questions: list[tuple[int, str, str]]  # (scope number, question, the fact it asks for)
    new_texts: list[str]
    figures: dict[str, Any] = field(default_factory=dict)


def workload(args: Any) -> Workload:
    texts = stdlib_paragraphs()
    corpus_vectors, _ = embedded(texts)
    held_out = texts[-NEW_TEXTS:]
    per_scope = args.memories // args.scopes
    scopes = [{"tenant": f"t{s % 10}", "user_id": f"u{s}"} for s in range(args.scopes)]
    contents: list[list[str]] = []
    questions: list[tuple[int, str, str]] = []
    pool = len(texts) - NEW_TEXTS
    for s in range(args.scopes):
        facts = labeled_facts(s, FACTS_PER_SCOPE) if s < LABELED_SCOPES else []
        mine = [f for f, _ in facts]
        mine += [texts[(s * per_scope + i) % pool] for i in range(per_scope - len(mine))]
        contents.append(mine)
        questions += [(s, q, f) for f, q in facts]
    vectors = {t: corpus_vectors[i] for i, t in enumerate(texts[:pool])}
    facts_only = [f for s in range(min(LABELED_SCOPES, args.scopes)) for f, _ in labeled_facts(s, FACTS_PER_SCOPE)]
    embedder = LocalEmbedder(EmbedSettings(), CACHE / "models")
    vectors.update(zip(facts_only, embedder.embed(facts_only), strict=True))
    new_texts = [f"{t} (note {n})" for n, t in enumerate(held_out)]
    return Workload(scopes, contents, vectors, questions, new_texts)


def fill_cache(engine: sa.Engine, vectors: dict[str, np.ndarray[Any, Any]]) -> None:
    now = datetime.now(UTC)
    items = [(hashlib.sha256(t.encode()).hexdigest(), v.astype("<f4").tobytes()) for t, v in vectors.items()]
    with engine.begin() as conn:
        for start in range(0, len(items), 5000):
            conn.execute(
                embedding_cache.insert(),
                [
                    {"model": MODEL, "text_sha256": key, "dim": 384, "vector": blob, "created_at": now}
                    for key, blob in items[start : start + 5000]
                ],
            )


def recall(found: list[list[str]], wanted: list[str], k: int = 10) -> float:
    return sum(w in f[:k] for f, w in zip(found, wanted, strict=True)) / len(wanted)


def run_lakehouse(label: str, settings: Settings, work: Workload) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with Lakehouse(settings) as lh:
        fill_cache(lh.opsdb, work.vectors)
        bare = MemoryStore(lh.opsdb)  # no embedder: the write path alone
        add_times: list[float] = []
        ids: list[list[str]] = []
        for scope, contents in zip(work.scopes, work.contents, strict=True):
            mine = []
            for text in contents:
                elapsed, memory = timed(lambda s=scope, t=text: bare.add(AddMemory(scope=s, content=t)))
                add_times.append(elapsed)
                mine.append(memory.id)
            ids.append(mine)
        out["add"] = add_times
        lh.memory.add(AddMemory(scope=Scope(tenant="warm"), content="load the model"))
        lh.memory.flush()
        spare = work.scopes[-1]
        inline = MemoryStore(lh.opsdb, lh.embeddings, MemorySettings(embed_on_write="inline"))
        half = len(work.new_texts) // 2
        out["add_embed"] = [
            timed(lambda t=t: inline.add(AddMemory(scope=spare, content=t)))[0] for t in work.new_texts[:half]
        ]
        t0 = time.perf_counter()
        out["add_background"] = [
            timed(lambda t=t: lh.memory.add(AddMemory(scope=spare, content=t)))[0] for t in work.new_texts[half:]
        ]
        lh.memory.flush()
        out["background_all_embedded_s"] = time.perf_counter() - t0
        labeled = sorted({s for s, _, _ in work.questions})
        out["first_search"] = [
            timed(lambda s=s: lh.memory.search(MemorySearch(scope=work.scopes[s], query="warm up", k=10)))[0]
            for s in labeled
        ]
        for attempt in ("search", "search_cached"):
            times, found = [], []
            for s, question, _ in work.questions:
                elapsed, answer = timed(
                    lambda s=s, q=question: lh.memory.search(MemorySearch(scope=work.scopes[s], query=q, k=10))
                )
                times.append(elapsed)
                found.append([r.content for r in answer.results])
            out[attempt] = times
            out[f"{attempt}_recall"] = recall(found, [f for _, _, f in work.questions])
            out[f"{attempt}_recall1"] = recall(found, [f for _, _, f in work.questions], k=1)
        history_ids = [(s, ids[s][i]) for s in range(min(10, len(ids))) for i in range(5)]
        for s, memory_id in history_ids:
            memory = lh.memory.get(memory_id, Scope(**work.scopes[s]))
            for n in range(4):
                memory = lh.memory.update(
                    memory_id,
                    ChangeMemory(scope=work.scopes[s], expected_version=memory.version, tags=[f"t{n}"]),
                )
        out["history"] = [
            timed(lambda s=s, m=m: lh.memory.history(m, Scope(**work.scopes[s])))[0] for s, m in history_ids
        ]
    print(f"{label}: done", flush=True)
    return out


def run_mem0(work: Workload, tmp: Path) -> dict[str, Any]:
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("OPENAI_API_KEY", "unused")  # the default LLM client is built; infer=False never calls it
    from mem0 import Memory

    model_path = str(LocalEmbedder(EmbedSettings(), CACHE / "models").model_path())
    memory = Memory.from_config(
        {
            "embedder": {"provider": "huggingface", "config": {"model": model_path}},
            "vector_store": {
                "provider": "qdrant",
                "config": {"path": str(tmp / "qdrant"), "embedding_model_dims": 384, "collection_name": "bench"},
            },
            "history_db_path": str(tmp / "history.db"),
        }
    )
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    for scope, contents in zip(work.scopes, work.contents, strict=True):
        for text in contents:
            memory._create_memory(
                text, {text: work.vectors[text].tolist()}, {"user_id": scope["user_id"], "role": "user"}
            )
    out["load_s"] = time.perf_counter() - t0
    spare = work.scopes[-1]["user_id"]
    memory.add([{"role": "user", "content": "load the model"}], user_id="warm", infer=False)
    out["add_embed"] = [
        timed(lambda t=t: memory.add([{"role": "user", "content": t}], user_id=spare, infer=False))[0]
        for t in work.new_texts
    ]
    times, found = [], []
    for s, question, _ in work.questions:
        user = work.scopes[s]["user_id"]
        elapsed, answer = timed(lambda q=question, u=user: memory.search(q, filters={"user_id": u}, top_k=10))
        times.append(elapsed)
        found.append([r["memory"] for r in answer["results"]])
    out["search"] = times
    out["search_recall"] = recall(found, [f for _, _, f in work.questions])
    out["search_recall1"] = recall(found, [f for _, _, f in work.questions], k=1)
    print("mem0: done", flush=True)
    return out


def make_pg_database() -> tuple[str, Callable[[], None]]:
    name = f"lh_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return sa.make_url(PG_SERVER).set(database=name).render_as_string(False), drop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--scopes", type=int, default=100)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--no-mem0", action="store_true")
    args = parser.parse_args()
    work = workload(args)
    per_scope = args.memories // args.scopes
    results: dict[str, dict[str, Any]] = {}
    for db in args.db.split(","):
        with tempfile.TemporaryDirectory(prefix="lh-bench-memory-") as tmp:
            values: dict[str, Any] = {"data_dir": Path(tmp) / "data"}
            drop: Callable[[], None] | None = None
            if db == "postgres":
                url, drop = make_pg_database()
                values["opsdb"] = {"url": url}
            try:
                results[db] = run_lakehouse(db, Settings.model_validate(values), work)
            finally:
                if drop is not None:
                    drop()
    if not args.no_mem0:
        with tempfile.TemporaryDirectory(prefix="lh-bench-mem0-") as tmp:
            results["mem0"] = run_mem0(work, Path(tmp))

    print(
        f"\n{args.memories:,} memories over {args.scopes} scopes ({per_scope:,} each); {len(work.questions)} "
        f"paraphrased questions over {min(LABELED_SCOPES, args.scopes)} scopes; all-MiniLM-L6-v2 on both sides"
    )
    systems = list(results)
    print("| measure (p50 / p95) | " + " | ".join(systems) + " |")
    print("| --- |" + " --- |" * len(systems))
    rows = [
        ("ADD without embedding (whole load)", "add"),
        (f"ADD with embedding ({NEW_TEXTS // 2} new texts; lakehouse: embed_on_write=inline)", "add_embed"),
        (f"ADD, embedded after it returns ({NEW_TEXTS // 2} new texts; the default)", "add_background"),
        ("search k=10, new question (embedded)", "search"),
        ("search k=10, same questions again (embedding cached)", "search_cached"),
        ("first search of a scope (index load)", "first_search"),
        ("HISTORY of a memory with 5 events", "history"),
    ]
    for title, key in rows:
        print(f"| {title} | " + " | ".join(fmt(r[key]) if key in r else "-" for r in results.values()) + " |")
    print(
        "| recall@10, paraphrased questions | "
        + " | ".join(f"{r['search_recall']:.3f}" for r in results.values())
        + " |"
    )
    if "mem0" in results:
        peer = results["mem0"]
        print(f"\nMem0 load through _create_memory: {peer['load_s']:.0f} s")
        for db in systems:
            if db == "mem0":
                continue
            ours = results[db]
            mem0_add, mem0_search = p50_p95(peer["add_embed"])[0], p50_p95(peer["search"])[0]
            print(
                f"{db} vs Mem0 (p50 ratios, higher is faster): "
                f"ADD inline {mem0_add / p50_p95(ours['add_embed'])[0]:.2f}x, "
                f"ADD default (embedded after) {mem0_add / p50_p95(ours['add_background'])[0]:.1f}x, "
                f"search {mem0_search / p50_p95(ours['search'])[0]:.2f}x, "
                f"search with the query embedding cached {mem0_search / p50_p95(ours['search_cached'])[0]:.1f}x; "
                f"recall@10 {ours['search_recall']:.3f} vs {peer['search_recall']:.3f}, "
                f"recall@1 {ours['search_recall1']:.3f} vs {peer['search_recall1']:.3f}; the default's "
                f"{NEW_TEXTS // 2} ADDs were all embedded {ours['background_all_embedded_s']:.1f} s after the first"
            )


if __name__ == "__main__":
    main()
