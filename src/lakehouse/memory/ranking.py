"""How memory search ranks: keyword scores (Okapi BM25 over the candidates' content), semantic similarity (cosine of
embeddings), and reciprocal rank fusion of the two lists (each hit scores 1 / (60 + rank) per list it is in)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

RRF_K = 60
BM25_K1 = 1.2
BM25_B = 0.75
_WORD = re.compile(r"\w+", re.UNICODE)


def terms(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def bm25(query: str, documents: Sequence[str], k1: float = BM25_K1, b: float = BM25_B) -> list[tuple[float, list[str]]]:
    """Each document's BM25 score for ``query`` and the query terms it contains (score 0 and [] when none)."""
    wanted = list(dict.fromkeys(terms(query)))
    if not wanted or not documents:
        return [(0.0, []) for _ in documents]
    bags = [Counter(terms(d)) for d in documents]
    lengths = [sum(bag.values()) for bag in bags]
    average = sum(lengths) / len(lengths) or 1.0
    n = len(documents)
    idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t in wanted if (df := sum(t in bag for bag in bags))}
    out = []
    for bag, length in zip(bags, lengths, strict=True):
        score, hit = 0.0, []
        for t in wanted:
            f = bag.get(t, 0)
            if f:
                hit.append(t)
                score += idf[t] * f * (k1 + 1) / (f + k1 * (1 - b + b * length / average))
        out.append((score, hit))
    return out


def cosine(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    q = query / (np.linalg.norm(query) or 1.0)
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    similarity: np.ndarray = (matrix @ q) / norms
    return similarity


def fuse(rankings: dict[str, list[int]]) -> dict[int, float]:
    """Reciprocal rank fusion: for each candidate index, the sum over the rankings it appears in of 1/(60 + rank)
    (rank from 1)."""
    fused: dict[int, float] = {}
    for ranked in rankings.values():
        for rank, index in enumerate(ranked, start=1):
            fused[index] = fused.get(index, 0.0) + 1.0 / (RRF_K + rank)
    return fused
