"""Client methods for /v1/keys (admin scope)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from lakehouse.apikeys import ApiKey, CreatedKey, CreateKey, KeyAnswer
from lakehouse.client._http import Transport

ROUTES = {("POST", "/v1/keys"), ("GET", "/v1/keys"), ("DELETE", "/v1/keys/{name}")}


class Keys:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(
        self, name: str, scopes: list[str], *, tenant: str | None = None, namespaces: list[str] | None = None
    ) -> CreatedKey:
        """Create a key (bound to one memory ``tenant`` and to lake ``namespaces`` when given); the result's
        ``secret`` is shown this once."""
        request = CreateKey(name=name, scopes=scopes, tenant=tenant, namespaces=namespaces)
        return self._t.call("POST", "/v1/keys", CreatedKey, body=request)

    def list(self, include_revoked: bool = False) -> Iterator[ApiKey]:
        return self._t.pages_of("/v1/keys", {"include_revoked": include_revoked}, ApiKey)

    def revoke(self, name: str) -> ApiKey:
        return self._t.call("DELETE", f"/v1/keys/{quote(name, safe='')}", KeyAnswer).key
