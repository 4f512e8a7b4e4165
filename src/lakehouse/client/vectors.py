"""Client methods for /v1/collections: the vectors library's models in, the same models out."""

from __future__ import annotations

import builtins
import io
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from lakehouse.client._http import Transport
from lakehouse.tables.ingest import write_arrow_stream
from lakehouse.vectors import (
    Collection,
    CollectionInfo,
    CreateCollection,
    DeletedCollection,
    DeletedPoints,
    DeletePoints,
    Hit,
    StoredPoint,
    Upserted,
    UpsertPoints,
    VectorBatches,
    VectorQuery,
    VectorResults,
    VectorSearch,
)

ROUTES = {
    ("POST", "/v1/collections"),
    ("GET", "/v1/collections"),
    ("GET", "/v1/collections/{name}"),
    ("DELETE", "/v1/collections/{name}"),
    ("POST", "/v1/collections/{name}/upsert"),
    ("GET", "/v1/collections/{name}/points/{point_id}"),
    ("POST", "/v1/collections/{name}/delete"),
    ("POST", "/v1/collections/{name}/search"),
}


def _c(name: str) -> str:
    return "/v1/collections/" + quote(name, safe="")


class Collections:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(self, name: str, dim: int, *, metric: str = "cosine", embedder: str | None = None) -> Collection:
        request = CreateCollection.checked({"name": name, "dim": dim, "metric": metric, "embedder": embedder})
        return self._t.call("POST", "/v1/collections", Collection, body=request)

    def list(self) -> Iterator[Collection]:
        return self._t.pages_of("/v1/collections", {}, Collection)

    def get(self, name: str) -> CollectionInfo:
        """The collection with ``count``, ``index`` (kind, snapshot it reflects) and ``memory_bytes``."""
        return self._t.call("GET", _c(name), CollectionInfo)

    def delete(self, name: str) -> Collection:
        return self._t.call("DELETE", _c(name), DeletedCollection).deleted

    def upsert(self, name: str, points: Sequence[dict[str, Any]] | Any) -> Upserted:
        """``points``: ``{"id", "vector"? | "text"?, "metadata"?, "text"?}``, stored as one commit; or a pyarrow
        Table (or anything exporting an Arrow stream, e.g. a polars DataFrame) with the columns ``id``, ``vector``
        and optionally ``metadata`` (JSON strings) and ``text``, sent as Arrow IPC: several times faster than JSON
        for large batches."""
        if hasattr(points, "__arrow_c_stream__"):
            sink = io.BytesIO()
            write_arrow_stream(points, sink)
            headers = {"content-type": "application/vnd.apache.arrow.stream"}
            answer = self._t.request("POST", _c(name) + "/upsert", content=sink.getvalue(), headers=headers)
            return Upserted.model_validate(answer.json())
        request = UpsertPoints.checked({"points": list(points)})
        return self._t.call("POST", _c(name) + "/upsert", Upserted, body=request)

    def point(self, name: str, point_id: str) -> StoredPoint:
        return self._t.call("GET", _c(name) + "/points/" + quote(point_id, safe=""), StoredPoint)

    def delete_points(
        self, name: str, *, ids: Sequence[str] | None = None, filter: dict[str, Any] | None = None
    ) -> DeletedPoints:
        request = DeletePoints.checked({"ids": list(ids)} if ids is not None else {"filter": filter})
        return self._t.call("POST", _c(name) + "/delete", DeletedPoints, body=request)

    def search(
        self,
        name: str,
        *,
        vector: Sequence[float] | None = None,
        text: str | None = None,
        k: int = 10,
        filter: dict[str, Any] | None = None,
        include: Sequence[str] = ("metadata",),
    ) -> builtins.list[Hit]:
        """The nearest points, best first."""
        given: dict[str, Any] = {"k": k, "include": list(include)}
        if vector is not None:
            given["vector"] = list(vector)
        if text is not None:
            given["text"] = text
        if filter is not None:
            given["filter"] = filter
        return self._t.call("POST", _c(name) + "/search", VectorResults, body=VectorSearch.checked(given)).results

    def search_batch(self, name: str, queries: Sequence[dict[str, Any]]) -> builtins.list[builtins.list[Hit]]:
        """Several searches in one request; each query as ``search`` takes it, as a dict."""
        request = VectorSearch(queries=[VectorQuery.checked(q) for q in queries])
        answer = self._t.call("POST", _c(name) + "/search", VectorBatches, body=request)
        return [batch.results for batch in answer.batches]
