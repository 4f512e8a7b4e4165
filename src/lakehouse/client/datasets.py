"""Client methods for /v1/datasets: the tables library's models in, the same models out."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from lakehouse.client._http import Transport, idempotency
from lakehouse.tables.model import ColumnSpec, CreateDataset, Dataset, DatasetRef, Dropped, PatchDataset, Snapshots

ROUTES = {
    ("POST", "/v1/datasets"),
    ("GET", "/v1/datasets"),
    ("GET", "/v1/datasets/{name}"),
    ("PATCH", "/v1/datasets/{name}"),
    ("DELETE", "/v1/datasets/{name}"),
    ("GET", "/v1/datasets/{name}/snapshots"),
}


def _d(name: str) -> str:
    return f"/v1/datasets/{quote(name, safe='')}"


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
    ) -> Dataset:
        """Create a dataset: ``columns`` = ``[{"name": "id", "type": "bigint"}, ...]``."""
        request = CreateDataset(
            name=name,
            namespace=namespace,
            columns=None if columns is None else [ColumnSpec.checked(c) for c in columns],
            description=description,
        )
        return self._t.call("POST", "/v1/datasets", Dataset, body=request, headers=idempotency(idempotency_key))

    def list(self, namespace: str | None = None, limit: int = 100) -> Iterator[DatasetRef]:
        params = {"limit": limit, **({"namespace": namespace} if namespace else {})}
        return self._t.pages_of("/v1/datasets", params, DatasetRef)

    def get(self, name: str) -> Dataset:
        return self._t.call("GET", _d(name), Dataset)

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Dataset:
        given = {k: v for k, v in (("name", new_name), ("description", description)) if v is not None}
        request = PatchDataset(**given)
        return self._t.call("PATCH", _d(name), Dataset, body=request, headers=idempotency(idempotency_key))

    def drop(self, name: str, *, idempotency_key: str | None = None) -> Dropped:
        return self._t.call("DELETE", _d(name), Dropped, headers=idempotency(idempotency_key))

    def snapshots(self, name: str) -> Snapshots:
        return self._t.call("GET", _d(name) + "/snapshots", Snapshots)
