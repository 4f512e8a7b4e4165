"""Client methods for /v1/embed."""

from __future__ import annotations

from collections.abc import Sequence

from lakehouse.client._http import Transport
from lakehouse.embed.embeddings import EmbedAnswer, EmbedModels, EmbedRequest

ROUTES = {("POST", "/v1/embed"), ("GET", "/v1/embed/models")}


class Embed:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def embed(self, texts: Sequence[str], *, model: str | None = None) -> EmbedAnswer:
        """One vector per text, in order (``answer.vectors``), and how many came from the cache."""
        request = EmbedRequest(texts=list(texts), model=model)
        return self._t.call("POST", "/v1/embed", EmbedAnswer, body=request)

    def models(self) -> EmbedModels:
        """What ``model=`` may name, and the default."""
        return self._t.call("GET", "/v1/embed/models", EmbedModels)
