"""``Embeddings``: the one entry point for text → vectors. It checks a request (texts, size, model), serves what it
can from the cache in the operational DB, keyed by (model, sha256(text)), embeds the rest once each (repeats
inside a request included) with the chosen provider, and stores them.

The provider is ``embed.provider``; left empty it is ``local`` when a local model and its backend's libraries are
installed (``lakehouse.embed.local``) and otherwise none, which every call reports with the setting to choose.
``hashing-<dim>`` is also served when asked for by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from pydantic import ConfigDict, Field

from lakehouse.config import Settings
from lakehouse.embed.local import EXTRA_HINT, LocalEmbedder, describe_backend, local_available
from lakehouse.embed.providers import Embedder, HashingEmbedder, OpenAIEmbedder, Vectors
from lakehouse.errors import (
    BatchTooLarge,
    EmbedderUnavailable,
    EmptyBatch,
    ErrorItem,
    InvalidText,
    Overloaded,
    UnknownModel,
)
from lakehouse.opsdb.engine import insert_ignoring_duplicates
from lakehouse.opsdb.schema import embedding_cache
from lakehouse.wire import Answer, WireModel

_log = logging.getLogger("lakehouse.embed")


@dataclass(frozen=True)
class EmbedResult:
    model: str
    dim: int
    vectors: Vectors  # float32, one row per text, in order
    cached: int  # how many texts came from the cache

    def answer(self) -> EmbedAnswer:
        """The wire answer (vectors as lists of floats)."""
        return EmbedAnswer.model_construct(
            model=self.model, dim=self.dim, count=len(self.vectors), cached=self.cached, vectors=self.vectors.tolist()
        )


class EmbedRequest(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"texts": ["red apple", "green pear"]}]})

    texts: list[str] = Field(description="The texts, each a non-empty string (at most embed.max_texts of them).")
    model: str | None = Field(None, description="A model name from GET /v1/embed/models; default: the configured one.")


class EmbedAnswer(Answer):
    model: str
    dim: int
    count: int
    cached: int = Field(description="How many texts came from the embedding cache.")
    vectors: list[list[float]] = Field(description="One vector per text, in input order.")


class EmbedModels(Answer):
    default: str
    models: list[str]


def default_provider(settings: Settings) -> str | None:
    """The provider used: the setting, else ``local`` when its extra is installed, else None."""
    if settings.embed.provider is not None:
        return settings.embed.provider
    return "local" if local_available(settings.embed) else None


def describe(settings: Settings) -> str:
    """One line on what embeds here, for start-up and ``doctor``."""
    provider = default_provider(settings)
    if provider is None:
        return f"embeddings: no provider; {EXTRA_HINT}"
    if provider == "local":
        backend = describe_backend(settings.embed)
        return f"embeddings: local model {settings.embed.model_name} on {backend} (loaded on first use)"
    if provider == "openai":
        return f"embeddings: {settings.embed.openai.model or '(no model)'} at {settings.embed.openai.base_url}"
    return f"embeddings: hashing-{settings.embed.hashing_dim} (feature hashing: for tests, not meaning)"


class _Gate:
    """Admission to a remote provider (the local model has its batcher's own): at most ``limit`` texts waiting for it
    or being embedded. A request on a path gets
    ``Overloaded`` past it (never an unbounded wait); background work waits. Whatever the limit, one request of more
    texts than it is admitted when nothing else is queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queued = 0
        self._changed = threading.Condition()

    def _fits(self, count: int) -> bool:
        return self.queued == 0 or self.queued + count <= self.limit

    @contextlib.contextmanager
    def admit(self, count: int, *, wait: bool) -> Iterator[None]:
        with self._changed:
            if not self._fits(count):
                if not wait:
                    raise Overloaded(
                        f"the embedder has {self.queued} texts waiting; retry in a moment",
                        field="input",
                        headers={"Retry-After": "1"},
                    )
                self._changed.wait_for(lambda: self._fits(count))
            self.queued += count
        try:
            yield
        finally:
            with self._changed:
                self.queued -= count
                self._changed.notify_all()


class _CacheWriter:
    """Embeddings on their way into the cache, written by one thread of their own, many rows per transaction, so
    that no request waits for a write of the cache (a new search's query embedding used to). ``pending`` serves
    what is not written yet; ``flush`` waits until everything handed over is written (a FORGET flushes before it
    purges, so no embedding of what it purges is written back after)."""

    def __init__(self, write: Callable[[list[dict[str, Any]]], None]) -> None:
        self._write = write
        self.pending: dict[tuple[str, str], dict[str, Any]] = {}
        self._busy = False
        self._closed = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def put(self, rows: list[dict[str, Any]]) -> None:
        with self._changed:
            if self._closed:
                self._write(rows)
                return
            for row in rows:
                self.pending[(row["model"], row["text_sha256"])] = row
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lakehouse-embed-cache", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def get(self, model: str, key: str) -> Vectors | None:
        row = self.pending.get((model, key))
        return None if row is None else np.frombuffer(row["vector"], dtype="<f4").astype(np.float32)

    def flush(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self.pending and not self._busy, timeout)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            thread = self._thread
            self._changed.notify_all()
        if thread is not None:
            thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._closed or bool(self.pending))
                if not self.pending:
                    return
                rows = list(self.pending.values())
                self._busy = True
            try:
                self._write(rows)
            finally:
                with self._changed:
                    for row in rows:
                        if self.pending.get((row["model"], row["text_sha256"])) is row:
                            del self.pending[(row["model"], row["text_sha256"])]
                    self._busy = False
                    self._changed.notify_all()


class Embeddings:
    """Thread-safe; providers are made on first use; texts queue for the local model in its batcher, for another
    provider through one bounded gate."""

    def __init__(self, settings: Settings, opsdb: sa.Engine) -> None:
        self.settings = settings
        self._gate = _Gate(settings.embed.max_queue)
        self._opsdb = opsdb
        self._lock = threading.Lock()
        self._default: Embedder | None = None
        self._hashing = HashingEmbedder(settings.embed.hashing_dim)
        self._writer = _CacheWriter(self._write)

    def default(self) -> Embedder:
        """The configured provider (made on first use); ``EmbedderUnavailable`` when there is none."""
        with self._lock:
            if self._default is None:
                provider = default_provider(self.settings)
                if provider is None:
                    raise EmbedderUnavailable(f"no embedding provider: {EXTRA_HINT}", field="embed.provider")
                if provider == "local":
                    graphs = self.settings.in_data_dir(self.settings.embed.graph_dir)
                    self._default = LocalEmbedder(self.settings.embed, graphs)
                elif provider == "openai":
                    self._default = OpenAIEmbedder(self.settings.embed.openai)
                else:
                    self._default = self._hashing
            return self._default

    def models(self) -> list[str]:
        """The names a request may ask for."""
        names = [self._hashing.name]
        if default_provider(self.settings) not in (None, "hashing"):
            names.insert(0, self.default().name)
        return names

    def embedder(self, model: str | None) -> Embedder:
        if model is None:
            return self.default()
        if model == self._hashing.name:
            return self._hashing
        if default_provider(self.settings) not in (None, "hashing") and model == self.default().name:
            return self.default()
        raise UnknownModel(f"no embedding model {model!r} here; available: {', '.join(self.models())}", field="model")

    def check(self, texts: list[Any]) -> None:
        """Refuse what cannot be embedded: no texts (422), too many (413), a text that is not a non-empty string or
        is too long (422, one item per text, with its index)."""
        limits = self.settings.embed
        if not texts:
            raise EmptyBatch("texts is empty: give at least one text", field="texts")
        if len(texts) > limits.max_texts:
            raise BatchTooLarge(
                f"{len(texts)} texts in one request; at most {limits.max_texts} (embed.max_texts)",
                field="texts",
                errors=[
                    ErrorItem(
                        kind="batch_too_large",
                        field="texts",
                        reason=f"{len(texts)} texts; the limit is {limits.max_texts}",
                    )
                ],
            )
        problems = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                reason = f"is a {type(text).__name__}, not a string"
            elif not text.strip():
                reason = "is empty"
            elif len(text) > limits.max_text_chars:
                reason = f"is {len(text)} characters; at most {limits.max_text_chars} (embed.max_text_chars)"
            else:
                continue
            problems.append(ErrorItem(kind="invalid_text", field=f"texts[{index}]", reason=f"text {index} {reason}"))
        if problems:
            raise InvalidText(f"{len(problems)} text(s) cannot be embedded", errors=problems)

    def embed(
        self, texts: list[str], model: str | None = None, *, wait: bool = False, background: bool = False
    ) -> EmbedResult:
        """Vectors for ``texts`` (in order) from ``model`` (default: the configured provider). Texts not in the cache
        queue for the model (``embed.max_queue``): past the limit a caller on a request's path gets 503 ``overloaded``
        with ``Retry-After`` at once, unless it asks to ``wait`` for room; ``background`` work waits too, and the
        local model runs its texts after every interactive one."""
        self.check(texts)
        embedder = self.embedder(model)
        keys = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
        found = self._cached(embedder.name, keys) if self.settings.embed.cache else {}
        if embedder.dim is not None:  # rows of another dimension were made by another model under this name
            found = {key: vector for key, vector in found.items() if len(vector) == embedder.dim}
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        if missing:
            if isinstance(embedder, LocalEmbedder):
                fresh = embedder.embed(list(missing.values()), background=background, wait=wait)
            else:
                with self._gate.admit(len(missing), wait=wait or background):
                    fresh = embedder.embed(list(missing.values()), background=background)
            computed = dict(zip(missing, fresh, strict=True))
            if self.settings.embed.cache:
                self._store(embedder.name, computed)
            found.update(computed)
        vectors = np.stack([found[key] for key in keys]).astype(np.float32, copy=False)
        cached = sum(1 for key in keys if key not in missing)
        return EmbedResult(model=embedder.name, dim=int(vectors.shape[1]), vectors=vectors, cached=cached)

    _lookup = (
        sa.select(embedding_cache.c.text_sha256, embedding_cache.c.vector)
        .where(embedding_cache.c.model == sa.bindparam("model"))
        .where(embedding_cache.c.text_sha256.in_(sa.bindparam("keys", expanding=True)))
    )

    def _cached(self, model: str, keys: list[str]) -> dict[str, Vectors]:
        found: dict[str, Vectors] = {}
        unique = []
        for key in sorted(set(keys)):
            vector = self._writer.get(model, key)
            if vector is None:
                unique.append(key)
            else:
                found[key] = vector
        if not unique:
            return found
        with self._opsdb.connect() as conn:
            for start in range(0, len(unique), 500):
                rows = conn.execute(self._lookup, {"model": model, "keys": unique[start : start + 500]})
                for key, blob in rows:
                    found[str(key)] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return found

    def _store(self, model: str, vectors: dict[str, Vectors]) -> None:
        now = datetime.now(UTC)
        self._writer.put(
            [
                {
                    "model": model,
                    "text_sha256": key,
                    "dim": int(vector.shape[0]),
                    "vector": np.asarray(vector, dtype="<f4").tobytes(),
                    "created_at": now,
                }
                for key, vector in vectors.items()
            ]
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the embeddings computed so far are written into the cache (False when ``timeout`` ran out)."""
        return self._writer.flush(timeout)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        statement = insert_ignoring_duplicates(self._opsdb, embedding_cache)
        try:
            with self._opsdb.begin() as conn:
                conn.execute(statement, rows)
        except sa.exc.SQLAlchemyError:  # a cache: the vectors are still returned, and computed again next time
            _log.warning("could not store %d embeddings in the cache", len(rows), exc_info=True)

    def close(self) -> None:
        self._writer.close()
        with self._lock:
            if isinstance(self._default, OpenAIEmbedder | LocalEmbedder):
                self._default.close()
            self._default = None
