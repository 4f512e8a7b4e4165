"""Client methods for /v1/keys (admin scope)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from lakehouse.client._http import Transport

ROUTES = {("POST", "/v1/keys"), ("GET", "/v1/keys"), ("DELETE", "/v1/keys/{name}")}


class Keys:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(self, name: str, scopes: list[str]) -> dict[str, Any]:
        """Create a key; the result's ``secret`` is shown this once."""
        result: dict[str, Any] = self._t.json("POST", "/v1/keys", json={"name": name, "scopes": scopes})
        return result

    def list(self, include_revoked: bool = False) -> Iterator[dict[str, Any]]:
        return self._t.pages("/v1/keys", {"include_revoked": include_revoked})

    def revoke(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("DELETE", f"/v1/keys/{quote(name, safe='')}")["key"]
        return result
