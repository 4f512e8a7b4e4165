"""Embedding benchmark: the local model (all-MiniLM-L6-v2) on ONNX Runtime, fp32 and int8, side by side with the
torch path (sentence-transformers), in one run, each through the same batcher and the same library calls.

Texts: short ones are the memory benchmark's facts and questions (bench/memory_facts.py, 10-15 tokens); paragraphs
are the language reference's paragraphs (bench/corpus.py ``reference_paragraphs``), cut at 600 characters (about
130 tokens). Every text embedded in a timed loop is new to the model's caller (no cache is in the way).

Measured per backend:
- load: a new process's first vector, the graph already written, from the first use (modules imported, as in a
  running server) and from the process's start; for onnx, writing the graph the first time;
- one short text at a time, texts/s; batches of 64 short texts and of 64 paragraphs, texts/s;
- memory search (``Lakehouse.memory.search``, k=10) with a new question each time: p50 / p95 over 200 searches in
  a scope of 200 memories;
- 16 threads searching at once, each with new questions: searches/s;
- onnx only: the same searches while the ADD warmer embeds 1,000 paragraphs written just before (interactive
  before background), p50 / p95;
- memory ADD with the embedding made before it returns (``embed_on_write = "inline"``), 150 new short texts, p50,
  beside Mem0's ADD (``infer=False``) with the same model through its huggingface embedder (torch), when mem0ai is
  installed (``pip install -e '.[bench]'``).

- memory search as the project did it before this backend (``--before``, a git revision: the torch path, one
  forward pass per request), measured in the same run by bench/search_load.py on that revision's source.

    .venv/bin/python bench/embed.py [--backends torch,onnx,int8] [--before REV]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpus import CACHE, reference_paragraphs
from memory_facts import labeled_facts
from search_load import fill, measure, p50_p95, searches

from lakehouse.config import EmbedSettings, Settings
from lakehouse.core import Lakehouse
from lakehouse.embed.local import LocalEmbedder, backend_installed
from lakehouse.memory import AddMemory, Scope

GRAPHS = CACHE / "models"
BEFORE = "cbfe320"  # the last commit with the torch path alone (no ONNX Runtime, no dynamic batching)
BACKENDS = {"torch": {"backend": "torch"}, "onnx": {"backend": "onnx"}, "int8": {"backend": "onnx", "quantize": "int8"}}


def cut(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def texts() -> tuple[list[str], list[str], list[str]]:
    """(short texts, paragraphs, questions) — all distinct."""
    pairs = [pair for scope in range(60) for pair in labeled_facts(scope, 20)]
    short = list(dict.fromkeys(text for pair in pairs for text in pair))
    paragraphs = [cut(p) for p in reference_paragraphs()]
    questions = [q for _, q in pairs]
    return short, paragraphs, questions


def rate(fn: Callable[[list[str]], Any], batches: list[list[str]]) -> float:
    start = time.perf_counter()
    for batch in batches:
        fn(batch)
    return sum(len(b) for b in batches) / (time.perf_counter() - start)


LOAD = """
import time
started = time.perf_counter()
from pathlib import Path
from lakehouse.config import EmbedSettings
from lakehouse.embed.local import LocalEmbedder
imported = time.perf_counter()
embedder = LocalEmbedder(EmbedSettings(**{options}), Path({graphs!r}))
embedder.embed(["the first text"])
print(time.perf_counter() - imported, time.perf_counter() - started)
"""


def load_seconds(options: dict[str, str]) -> tuple[float, float]:
    """A new process's first vector (median of 3): from the first use, as in a running server whose modules are
    imported (the model library's import included), and from the start of the process."""
    code = LOAD.format(options=options, graphs=str(GRAPHS))
    runs = [
        tuple(float(x) for x in subprocess.check_output([sys.executable, "-c", code], text=True).split()[-2:])
        for _ in range(3)
    ]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def export_seconds(quantize: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        from lakehouse.embed.local import bundled_model, cached_graph

        model = bundled_model()
        assert model is not None
        start = time.perf_counter()
        cached_graph(model, Path(tmp), quantize, "bench")
        return time.perf_counter() - start


def run(name: str, options: dict[str, str], short: list[str], paragraphs: list[str], questions: list[str]) -> dict:
    out: dict[str, Any] = {}
    embedder = LocalEmbedder(EmbedSettings(**options), GRAPHS)
    embedder.embed(short[:64])
    offset = 64
    singles = [[t] for t in short[offset : offset + 300]]
    offset += 300
    out["single"] = rate(embedder.embed, singles)
    out["batch_short"] = rate(embedder.embed, [short[offset + i * 64 : offset + (i + 1) * 64] for i in range(8)])
    out["batch_paragraphs"] = rate(embedder.embed, [paragraphs[i * 64 : (i + 1) * 64] for i in range(4)])
    embedder.close()
    out["load"] = load_seconds(options)
    with tempfile.TemporaryDirectory(prefix="lh-bench-embed-") as tmp:
        settings = Settings.model_validate(
            {"data_dir": Path(tmp) / "data", "embed": {**options, "graph_dir": str(GRAPHS)}}
        )
        with Lakehouse(settings) as lh:
            scope = fill(lh)
            out.update(measure(lh, scope, name))
            if name != "torch":
                busy = Scope(tenant="bench", user_id="u2")
                for n, text in enumerate(paragraphs[256:1256]):
                    lh.memory.add(AddMemory(scope=busy, content=f"{text} ({name} {n})"))
                start = time.perf_counter()
                out["search_while_warming"] = p50_p95(searches(lh, scope, [f"{q} ({name} 3)" for q in questions[:100]]))
                warming_left = not lh.memory.flush(timeout=0)
                lh.memory.flush()
                out["warming"] = (time.perf_counter() - start, warming_left)
    print(f"{name}: done", flush=True)
    return out


def before(rev: str) -> dict[str, Any] | None:
    """Memory search as the project did it at ``rev`` (by default the commit before the ONNX backend and the batcher:
    the torch path, one forward pass per request on one model thread), measured by bench/search_load.py on that
    checkout's source in a new process; None when the revision cannot be read (no git history here)."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", rev, "src"], capture_output=True)
    if archive.returncode != 0:
        print(f"no baseline: git archive {rev}: {archive.stderr.decode().strip()}", flush=True)
        return None
    with tempfile.TemporaryDirectory(prefix="lh-bench-before-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        script = Path(__file__).resolve().parent / "search_load.py"
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        output = subprocess.check_output([sys.executable, str(script), "before"], env=env, text=True)
    print("before: done", flush=True)
    result: dict[str, Any] = json.loads(output.splitlines()[-1])
    return result


def add_inline(options: dict[str, str], texts: list[str]) -> tuple[float, float]:
    """ADD with the embedding made before it returns (``memory.embed_on_write = "inline"``), new texts: p50 / p95."""
    with tempfile.TemporaryDirectory(prefix="lh-bench-embed-") as tmp:
        settings = Settings.model_validate(
            {
                "data_dir": Path(tmp) / "data",
                "embed": {**options, "graph_dir": str(GRAPHS)},
                "memory": {"embed_on_write": "inline"},
            }
        )
        with Lakehouse(settings) as lh:
            scope = Scope(tenant="bench", user_id="inline")
            lh.memory.add(AddMemory(scope=scope, content="load the model"))
            times = []
            for text in texts:
                start = time.perf_counter()
                lh.memory.add(AddMemory(scope=scope, content=text))
                times.append(time.perf_counter() - start)
    return p50_p95(times)


def add_mem0(texts: list[str]) -> tuple[float, float] | None:
    """Mem0's ADD (``infer=False``: the text embedded and stored, no LLM) with the same model through its
    huggingface embedder (sentence-transformers on torch), local Qdrant: p50 / p95; None without mem0."""
    import importlib.util
    import os

    if importlib.util.find_spec("mem0") is None or not backend_installed("torch"):
        return None
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("OPENAI_API_KEY", "unused")  # the default LLM client is built; infer=False never calls it
    from mem0 import Memory

    from lakehouse.embed.local import bundled_model

    with tempfile.TemporaryDirectory(prefix="lh-bench-mem0-") as tmp:
        memory = Memory.from_config(
            {
                "embedder": {"provider": "huggingface", "config": {"model": str(bundled_model())}},
                "vector_store": {
                    "provider": "qdrant",
                    "config": {"path": f"{tmp}/qdrant", "embedding_model_dims": 384, "collection_name": "bench"},
                },
                "history_db_path": f"{tmp}/history.db",
            }
        )
        memory.add([{"role": "user", "content": "load the model"}], user_id="warm", infer=False)
        times = []
        for text in texts:
            start = time.perf_counter()
            memory.add([{"role": "user", "content": text}], user_id="inline", infer=False)
            times.append(time.perf_counter() - start)
    return p50_p95(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="torch,onnx,int8")
    parser.add_argument("--before", default=BEFORE, help="the revision to measure memory search against ('' to skip)")
    args = parser.parse_args()
    names = [n for n in args.backends.split(",") if n != "torch" or backend_installed("torch")]
    short, paragraphs, questions = texts()
    exports = {"fp32": export_seconds("none"), "int8": export_seconds("int8")}
    LocalEmbedder(EmbedSettings(quantize="int8"), GRAPHS).embed(["write the cached graphs"])
    results = {name: run(name, BACKENDS[name], short, paragraphs, questions) for name in names}
    fresh = [f"{text} (ADD {n})" for n, text in enumerate(short[:150])]
    for name in names:
        results[name]["add_inline"] = add_inline(BACKENDS[name], fresh)
    mem0 = add_mem0(fresh)
    earlier = before(args.before) if args.before else None
    base = results.get("torch")
    print(f"\nall-MiniLM-L6-v2 on {names}; short texts {len(short)}, paragraphs cut at 600 characters")
    print("| measure | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))

    def ratio(name: str, key: str, higher_is_better: bool = True, index: int | None = None) -> str:
        value = results[name][key] if index is None else results[name][key][index]
        if base is None or name == "torch":
            return ""
        reference = base[key] if index is None else base[key][index]
        return f" (**{value / reference if higher_is_better else reference / value:.1f}x**)"

    rows = [
        ("one short text at a time, texts/s", "single", "{:,.0f}"),
        ("batches of 64 short texts, texts/s", "batch_short", "{:,.0f}"),
        ("batches of 64 paragraphs, texts/s", "batch_paragraphs", "{:,.0f}"),
        ("16 threads searching memory, new questions, searches/s", "concurrent", "{:,.0f}"),
    ]
    for title, key, form in rows:
        print(f"| {title} | " + " | ".join(form.format(results[n][key]) + ratio(n, key) for n in names) + " |")
    print(
        "| memory search, new question, p50 / p95 ms | "
        + " | ".join(
            f"{results[n]['search'][0]:.1f} / {results[n]['search'][1]:.1f}" + ratio(n, "search", False, 0)
            for n in names
        )
        + " |"
    )
    print(
        "| same, while 1,000 new paragraphs are embedded in the background, p50 / p95 ms | "
        + " | ".join(
            f"{results[n]['search_while_warming'][0]:.1f} / {results[n]['search_while_warming'][1]:.1f}"
            if "search_while_warming" in results[n]
            else "-"
            for n in names
        )
        + " |"
    )
    print(
        "| first use to the first vector (a new process, modules imported), s | "
        + " | ".join(f"{results[n]['load'][0]:.2f}" for n in names)
        + " |"
    )
    print(
        "| a new process's start to the first vector, s | "
        + " | ".join(f"{results[n]['load'][1]:.2f}" for n in names)
        + " |"
    )
    print(
        "| memory ADD with the embedding inline, p50 / p95 ms | "
        + " | ".join(
            f"{results[n]['add_inline'][0]:.1f} / {results[n]['add_inline'][1]:.1f}"
            + (f" (**{mem0[0] / results[n]['add_inline'][0]:.1f}x** Mem0)" if mem0 else "")
            for n in names
        )
        + " |"
    )
    if mem0:
        print(f"Mem0 ADD (infer=False, same model on torch, local Qdrant): {mem0[0]:.1f} / {mem0[1]:.1f} ms p50 / p95")
    if earlier is not None:
        print(
            f"\nbefore ({args.before}: torch, one forward pass per request): memory search p50 / p95 "
            f"{earlier['search'][0]:.1f} / {earlier['search'][1]:.1f} ms, 16 threads {earlier['concurrent']:,.0f} "
            "searches/s; against it: "
            + ", ".join(
                f"{n} {earlier['search'][0] / results[n]['search'][0]:.1f}x p50, "
                f"{results[n]['concurrent'] / earlier['concurrent']:.1f}x searches/s"
                for n in names
            )
        )
    print(f"\nwriting the graph the first time: fp32 {exports['fp32']:.1f} s, int8 {exports['int8']:.1f} s")
    for n in names:
        if "warming" in results[n]:
            seconds, left = results[n]["warming"]
            print(
                f"{n}: background warming {'still running' if left else 'done'} when the searches ended; all "
                f"1,000 embedded {seconds:.1f} s after the searches began"
            )


if __name__ == "__main__":
    main()
