"""A real text corpus for the vectors benchmark: the documentation text of the Python standard library this
interpreter ships, and its 384-dimension embeddings from the local model, cached between runs.

The texts are read from the standard library's own source files (nothing is imported or run): every module, class
and function docstring (``ast``), cut at blank lines, and every block of consecutive comment lines (``tokenize``);
then the paragraphs of the language reference topics ``pydoc`` ships (``pydoc_data.topics``). Texts of at least 40
characters are kept once each, in a stable order (file path, then place in the file).

    .venv/bin/python bench/corpus.py        # prints the count and where the embeddings are cached
"""

from __future__ import annotations

import ast
import hashlib
import io
import sysconfig
import time
import tokenize
from pathlib import Path
from typing import Any

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache"
MIN_CHARS = 40


def _comment_blocks(source: bytes) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    last_line = -2
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            if token.type == tokenize.COMMENT:
                if token.start[0] != last_line + 1 and current:
                    blocks.append(" ".join(current))
                    current = []
                current.append(token.string.lstrip("#").strip())
                last_line = token.start[0]
    except (tokenize.TokenError, SyntaxError):
        pass
    if current:
        blocks.append(" ".join(current))
    return blocks


def stdlib_paragraphs() -> list[str]:
    import pydoc_data.topics

    root = Path(sysconfig.get_paths()["stdlib"])
    seen: set[str] = set()
    texts: list[str] = []

    def keep(raw: str) -> None:
        text = " ".join(raw.split())
        if len(text) >= MIN_CHARS and text not in seen:
            seen.add(text)
            texts.append(text)

    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        source = path.read_bytes()
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                for paragraph in (ast.get_docstring(node) or "").split("\n\n"):
                    keep(paragraph)
        for block in _comment_blocks(source):
            keep(block)
    for _, topic in sorted(pydoc_data.topics.topics.items()):
        for paragraph in topic.split("\n\n"):
            keep(paragraph)
    return texts


def reference_paragraphs() -> list[str]:
    """The paragraphs of the language reference topics ``pydoc`` ships (the last part of ``stdlib_paragraphs``), of
    at least ``MIN_CHARS`` characters, once each, in a stable order: real documentation text in a second."""
    import pydoc_data.topics

    seen: dict[str, None] = {}
    for _, topic in sorted(pydoc_data.topics.topics.items()):
        for paragraph in topic.split("\n\n"):
            text = " ".join(paragraph.split())
            if len(text) >= MIN_CHARS:
                seen.setdefault(text)
    return list(seen)


def embedded(texts: list[str], batch: int = 64) -> tuple[np.ndarray[Any, np.dtype[np.float32]], float | None]:
    """The texts' embeddings by the local model (all-MiniLM-L6-v2), from the cache when it holds these texts; and
    the texts/s of the embedding when it was done in this call (None from the cache)."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"stdlib-minilm-{digest}.npy"
    if path.exists():
        return np.load(path), None
    from lakehouse.config import EmbedSettings
    from lakehouse.embed.local import LocalEmbedder

    embedder = LocalEmbedder(EmbedSettings(batch_size=batch), CACHE / "models")
    embedder.load()
    t0 = time.perf_counter()
    vectors = np.concatenate([embedder.embed(texts[i : i + batch]) for i in range(0, len(texts), batch)])
    rate = len(texts) / (time.perf_counter() - t0)
    CACHE.mkdir(exist_ok=True)
    np.save(path, vectors.astype(np.float32))
    return vectors.astype(np.float32), rate


if __name__ == "__main__":
    corpus = stdlib_paragraphs()
    print(f"{len(corpus):,} paragraphs")
    vectors, rate = embedded(corpus)
    print(vectors.shape, "cached" if rate is None else f"embedded at {rate:,.0f} texts/s")
