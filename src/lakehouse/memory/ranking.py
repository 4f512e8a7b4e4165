"""How memory search ranks: keyword scores (Okapi BM25), semantic similarity (cosine of embeddings), and the two
fused, by relative scores (each list's scores scaled to 0-1 over its hits, then weighted: ``alpha`` for meaning,
``1 - alpha`` for words) or by reciprocal rank (each hit scores 1 / (60 + rank) per list it is in)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

RRF_K = 60
FUSIONS = ("relative", "rrf")
ALPHA = 0.75  # the weight of meaning in relative fusion
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


def fuse_relative(scores: dict[str, dict[int, float]], weights: dict[str, float]) -> dict[int, float]:
    """Relative score fusion: each list's scores min-max scaled over its hits (all 1 when they are equal), weighted
    by the list's share of the weights of the lists present, and summed per candidate index."""
    present = {name: hits for name, hits in scores.items() if hits}
    total = sum(weights[name] for name in present) or 1.0
    fused: dict[int, float] = {}
    for name, hits in present.items():
        low, high = min(hits.values()), max(hits.values())
        share = weights[name] / total
        for index, score in hits.items():
            scaled = (score - low) / (high - low) if high > low else 1.0
            fused[index] = fused.get(index, 0.0) + share * scaled
    return fused
