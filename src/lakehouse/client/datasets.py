"""Client methods for /v1/datasets."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from lakehouse.client._http import Transport, idempotency

ROUTES = {
    ("POST", "/v1/datasets"),
    ("GET", "/v1/datasets"),
    ("GET", "/v1/datasets/{name}"),
    ("PATCH", "/v1/datasets/{name}"),
    ("DELETE", "/v1/datasets/{name}"),
    ("GET", "/v1/datasets/{name}/snapshots"),
}


class Datasets:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(
        self,
        name: str,
        columns: builtins.list[dict[str, Any]] | None = None,
        *,
        namespace: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create a dataset: ``columns`` = ``[{"name": "id", "type": "bigint"}, ...]``."""
        body = {"name": name, "namespace": namespace, "columns": columns, "description": description}
        result: dict[str, Any] = self._t.json("POST", "/v1/datasets", json=body, headers=idempotency(idempotency_key))
        return result

    def list(self, namespace: str | None = None, limit: int = 100) -> Iterator[dict[str, Any]]:
        return self._t.pages("/v1/datasets", {"limit": limit, **({"namespace": namespace} if namespace else {})})

    def get(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("GET", f"/v1/datasets/{quote(name, safe='')}")
        return result

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body = {k: v for k, v in (("name", new_name), ("description", description)) if v is not None}
        result: dict[str, Any] = self._t.json(
            "PATCH", f"/v1/datasets/{quote(name, safe='')}", json=body, headers=idempotency(idempotency_key)
        )
        return result

    def drop(self, name: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json(
            "DELETE", f"/v1/datasets/{quote(name, safe='')}", headers=idempotency(idempotency_key)
        )
        return result

    def snapshots(self, name: str) -> builtins.list[dict[str, Any]]:
        items: builtins.list[dict[str, Any]] = self._t.json("GET", f"/v1/datasets/{quote(name, safe='')}/snapshots")[
            "items"
        ]
        return items
