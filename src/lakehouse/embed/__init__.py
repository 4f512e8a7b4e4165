"""Embeddings: text to vectors through one interface, with the providers ``local`` (a sentence-transformers model on
this machine, offline, on ONNX Runtime or torch, behind a dynamic batcher), ``openai`` (any OpenAI-compatible
endpoint) and ``hashing`` (feature hashing, for tests), and a cache keyed by (model, sha256(text)) in the
operational DB."""

from lakehouse.embed.embeddings import Embeddings, EmbedResult, default_provider, describe
from lakehouse.embed.local import LocalEmbedder
from lakehouse.embed.providers import Embedder, HashingEmbedder, OpenAIEmbedder

__all__ = [
    "EmbedResult",
    "Embedder",
    "Embeddings",
    "HashingEmbedder",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "default_provider",
    "describe",
]
