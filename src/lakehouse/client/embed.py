"""Client methods for /v1/embed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lakehouse.client._http import Transport

ROUTES = {("POST", "/v1/embed"), ("GET", "/v1/embed/models")}


class Embed:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def embed(self, texts: Sequence[str], *, model: str | None = None) -> dict[str, Any]:
        """``{"model", "dim", "count", "cached", "vectors": [[...], ...]}``, one vector per text, in order."""
        body: dict[str, Any] = {"texts": list(texts)}
        if model is not None:
            body["model"] = model
        result: dict[str, Any] = self._t.json("POST", "/v1/embed", json=body)
        return result

    def models(self) -> dict[str, Any]:
        """``{"default": name, "models": [names]}``: what ``model=`` may name."""
        result: dict[str, Any] = self._t.json("GET", "/v1/embed/models")
        return result
