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

    def create(
        self, name: str, scopes: list[str], *, tenant: str | None = None, namespaces: list[str] | None = None
    ) -> dict[str, Any]:
        """Create a key (bound to one memory ``tenant`` and to lake ``namespaces`` when given); the result's
        ``secret`` is shown this once."""
        body: dict[str, Any] = {"name": name, "scopes": scopes}
        if tenant is not None:
            body["tenant"] = tenant
        if namespaces is not None:
            body["namespaces"] = namespaces
        result: dict[str, Any] = self._t.json("POST", "/v1/keys", json=body)
        return result

    def list(self, include_revoked: bool = False) -> Iterator[dict[str, Any]]:
        return self._t.pages("/v1/keys", {"include_revoked": include_revoked})

    def revoke(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("DELETE", f"/v1/keys/{quote(name, safe='')}")["key"]
        return result
