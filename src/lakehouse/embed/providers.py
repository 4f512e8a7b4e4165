"""The embedding providers' one interface (``Embedder``) and two of them: ``OpenAIEmbedder`` (any OpenAI-compatible
``/v1/embeddings`` endpoint) and ``HashingEmbedder`` (deterministic feature hashing, named as such: for fast tests,
never a default). The local model is ``lakehouse.embed.local.LocalEmbedder``.

Every provider returns float32 rows, one per text, in order. Thread-safe.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from typing import Any, Protocol

import httpx
import numpy as np

from lakehouse.config import OpenAIEmbedSettings
from lakehouse.errors import EmbedderFailed, EmbedderUnavailable, ErrorItem

Vectors = np.ndarray[Any, np.dtype[np.float32]]


class Embedder(Protocol):
    """Texts to vectors. ``name`` is what requests and the cache call the model; ``dim`` may be learned on the first
    call (an endpoint's model). ``background``: work no caller is waiting for (the local model runs it after
    interactive work)."""

    name: str

    @property
    def dim(self) -> int | None: ...

    def embed(self, texts: list[str], *, background: bool = False) -> Vectors: ...


class OpenAIEmbedder:
    """``POST {base_url}/embeddings`` with ``{"model", "input": [...]}``, in requests of at most ``max_batch`` texts;
    the rows are put back in input order by their ``index``."""

    def __init__(self, settings: OpenAIEmbedSettings, *, http: httpx.Client | None = None) -> None:
        if not settings.base_url or not settings.model:
            raise EmbedderUnavailable(
                "embed.provider = 'openai' needs embed.openai.base_url and embed.openai.model", field="embed.openai"
            )
        self.name = settings.model
        self._settings = settings
        self._url = settings.base_url.rstrip("/") + "/embeddings"
        headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"} if settings.api_key else {}
        self._http = http or httpx.Client(timeout=settings.timeout_seconds, headers=headers)
        self._dim: int | None = None

    @property
    def dim(self) -> int | None:
        return self._dim

    def embed(self, texts: list[str], *, background: bool = False) -> Vectors:
        rows: list[Vectors] = []
        for start in range(0, len(texts), self._settings.max_batch):
            rows.append(self._request(texts[start : start + self._settings.max_batch]))
        vectors = np.concatenate(rows) if rows else np.zeros((0, self._dim or 0), dtype=np.float32)
        if self._dim is None and len(vectors):
            self._dim = int(vectors.shape[1])
        return vectors

    def _request(self, texts: list[str]) -> Vectors:
        try:
            response = self._http.post(self._url, json={"model": self._settings.model, "input": texts})
        except httpx.HTTPError as exc:
            raise EmbedderFailed(
                f"the embedding endpoint {self._url} did not answer: {exc}", field="embed.openai.base_url"
            ) from exc
        if response.status_code != 200:
            raise EmbedderFailed(
                f"the embedding endpoint answered {response.status_code}: {response.text[:500]}",
                errors=[
                    ErrorItem(
                        kind="embedder_failed",
                        field="embed.openai",
                        reason=f"the endpoint answered HTTP {response.status_code}",
                    )
                ],
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbedderFailed(f"the embedding endpoint's answer is not an embeddings list: {exc}") from exc
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EmbedderFailed(f"the embedding endpoint returned {len(vectors)} vectors for {len(texts)} texts")
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise EmbedderFailed(f"the embedding endpoint changed dimension from {self._dim} to {vectors.shape[1]}")
        return vectors

    def close(self) -> None:
        self._http.close()


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Feature hashing: each lowercased word and word pair adds ±1 at a position given by its blake2b hash, then
    the row is L2-normalized. Deterministic and instant, with no notion of meaning beyond shared words: for tests
    that need vectors fast. Named ``hashing-<dim>``."""

    def __init__(self, dim: int) -> None:
        self._dim = dim
        self.name = f"hashing-{dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: list[str], *, background: bool = False) -> Vectors:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _TOKEN.findall(text.lower())
            for feature in words + [a + " " + b for a, b in itertools.pairwise(words)]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self._dim] += 1.0 if value >> 63 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out
