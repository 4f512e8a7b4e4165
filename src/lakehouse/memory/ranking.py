"""How memory search ranks: keyword scores (Okapi BM25), semantic similarity (cosine of embeddings), and the two
fused, by relative scores (each list's scores scaled to 0-1 over its hits, then weighted: ``alpha`` for meaning,
``1 - alpha`` for words) or by reciprocal rank (each hit scores 1 / (60 + rank) per list it is in). Fusion works on
arrays of candidate indices, so a scope of thousands of memories is ranked in C, not in a Python loop per memory."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

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


Fused = tuple["np.ndarray[Any, Any]", "np.ndarray[Any, Any]"]  # (score per candidate index, whether it is ranked)


def fuse(rankings: Sequence[np.ndarray[Any, Any]], size: int) -> Fused:
    """Reciprocal rank fusion over ``size`` candidates: each ranking is an array of candidate indices, best first;
    a candidate's score is the sum over the rankings it appears in of 1/(60 + rank) (rank from 1)."""
    fused = np.zeros(size, dtype=np.float64)
    present = np.zeros(size, dtype=bool)
    for ranked in rankings:
        fused[ranked] += 1.0 / (RRF_K + np.arange(1, len(ranked) + 1, dtype=np.float64))
        present[ranked] = True
    return fused, present


def fuse_relative(
    scores: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]], weights: dict[str, float], size: int
) -> Fused:
    """Relative score fusion over ``size`` candidates: each list is (candidate indices, their scores); its scores
    are min-max scaled over its hits (all 1 when they are equal), weighted by the list's share of the weights of
    the lists present, and summed per candidate."""
    present_lists = {name: hits for name, hits in scores.items() if len(hits[0])}
    total = sum(weights[name] for name in present_lists) or 1.0
    fused = np.zeros(size, dtype=np.float64)
    present = np.zeros(size, dtype=bool)
    for name, (where, values) in present_lists.items():
        low, high = values.min(), values.max()
        scaled = (values - low) / (high - low) if high > low else np.ones(len(values))
        fused[where] += (weights[name] / total) * scaled
        present[where] = True
    return fused, present


def ranked(fused: Fused) -> list[int]:
    """The ranked candidates' indices by fused score, best first; ties in index order."""
    scores, present = fused
    chosen = np.flatnonzero(present)
    order: list[int] = chosen[np.argsort(-scores[chosen], kind="stable")].tolist()
    return order
