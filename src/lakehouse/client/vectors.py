"""Client methods for /v1/collections."""

from __future__ import annotations

import builtins
import io
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from lakehouse.client._http import Transport
from lakehouse.tables.ingest import write_arrow_stream

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

    def create(self, name: str, dim: int, *, metric: str = "cosine", embedder: str | None = None) -> dict[str, Any]:
        body = {"name": name, "dim": dim, "metric": metric, "embedder": embedder}
        result: dict[str, Any] = self._t.json("POST", "/v1/collections", json=body)
        return result

    def list(self) -> Iterator[dict[str, Any]]:
        return self._t.pages("/v1/collections", {})

    def get(self, name: str) -> dict[str, Any]:
        """The collection with ``count``, ``index`` (kind, snapshot it reflects) and ``memory_bytes``."""
        result: dict[str, Any] = self._t.json("GET", _c(name))
        return result

    def delete(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("DELETE", _c(name))
        return result

    def upsert(self, name: str, points: Sequence[dict[str, Any]] | Any) -> dict[str, Any]:
        """``points``: ``{"id", "vector"? | "text"?, "metadata"?, "text"?}``, stored as one commit; or a pyarrow
        Table (or anything exporting an Arrow stream, e.g. a polars DataFrame) with the columns ``id``, ``vector``
        and optionally ``metadata`` (JSON strings) and ``text``, sent as Arrow IPC: several times faster than JSON
        for large batches."""
        if hasattr(points, "__arrow_c_stream__"):
            sink = io.BytesIO()
            write_arrow_stream(points, sink)
            headers = {"content-type": "application/vnd.apache.arrow.stream"}
            answer = self._t.request("POST", _c(name) + "/upsert", content=sink.getvalue(), headers=headers)
            arrow_result: dict[str, Any] = answer.json()
            return arrow_result
        result: dict[str, Any] = self._t.json("POST", _c(name) + "/upsert", json={"points": list(points)})
        return result

    def point(self, name: str, point_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("GET", _c(name) + "/points/" + quote(point_id, safe=""))
        return result

    def delete_points(
        self, name: str, *, ids: Sequence[str] | None = None, filter: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"ids": list(ids)} if ids is not None else {"filter": filter}
        result: dict[str, Any] = self._t.json("POST", _c(name) + "/delete", json=body)
        return result

    def search(
        self,
        name: str,
        *,
        vector: Sequence[float] | None = None,
        text: str | None = None,
        k: int = 10,
        filter: dict[str, Any] | None = None,
        include: Sequence[str] = ("metadata",),
    ) -> builtins.list[dict[str, Any]]:
        """``[{"id", "score", "metadata"?, "text"?, "vector"?}]``, best first."""
        body: dict[str, Any] = {"k": k, "include": list(include)}
        if vector is not None:
            body["vector"] = list(vector)
        if text is not None:
            body["text"] = text
        if filter is not None:
            body["filter"] = filter
        results: builtins.list[dict[str, Any]] = self._t.json("POST", _c(name) + "/search", json=body)["results"]
        return results

    def search_batch(
        self, name: str, queries: Sequence[dict[str, Any]]
    ) -> builtins.list[builtins.list[dict[str, Any]]]:
        """Several searches in one request; each query as ``search`` takes it, as a dict."""
        answer = self._t.json("POST", _c(name) + "/search", json={"queries": list(queries)})
        return [batch["results"] for batch in answer["batches"]]
