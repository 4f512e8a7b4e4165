"""Client methods for ingest and /v1/sql."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from lakehouse.client._http import Transport

ROUTES = {("POST", "/v1/datasets/{name}/ingest"), ("POST", "/v1/sql")}

CONTENT_TYPES = {
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}


class Tables:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def ingest(
        self,
        dataset: str,
        data: bytes | IO[bytes] | Iterable[bytes] | Path,
        *,
        format: str,
        mode: str = "append",
        key: list[str] | None = None,
        create: bool = False,
    ) -> dict[str, Any]:
        """Write ``data`` (bytes, a binary file, chunks, or a path; streamed) into ``dataset`` as one commit."""
        if format not in CONTENT_TYPES:
            raise ValueError(f"format must be one of {', '.join(CONTENT_TYPES)}")
        params: dict[str, Any] = {"mode": mode, "create": str(create).lower()}
        if key:
            params["key"] = ",".join(key)
        if isinstance(data, Path):
            with data.open("rb") as handle:
                return self._post(dataset, handle, params, format)
        return self._post(dataset, data, params, format)

    def _post(self, name: str, data: Any, params: dict[str, Any], format: str) -> dict[str, Any]:
        content = data
        if hasattr(data, "read"):
            stream = data

            def chunks() -> Any:
                while block := stream.read(1024 * 1024):
                    yield block

            content = chunks()
        result: dict[str, Any] = self._t.json(
            "POST",
            f"/v1/datasets/{quote(name, safe='')}/ingest",
            params=params,
            content=content,
            headers={"Content-Type": CONTENT_TYPES[format]},
        )
        return result

    def sql(
        self,
        sql: str,
        params: list[Any] | dict[str, Any] | None = None,
        *,
        snapshot: int | None = None,
        as_of: str | None = None,
        max_rows: int | None = None,
        timeout_ms: int | None = None,
    ) -> dict[str, Any]:
        """Run read-only SQL; returns ``{"columns", "rows", "row_count", "truncated", "snapshot_id", ...}``."""
        body = {"sql": sql, "params": params, "snapshot": snapshot, "as_of": as_of, "max_rows": max_rows}
        body["timeout_ms"] = timeout_ms
        result: dict[str, Any] = self._t.json("POST", "/v1/sql", json={k: v for k, v in body.items() if v is not None})
        return result

    def sql_arrow(
        self,
        sql: str,
        params: list[Any] | dict[str, Any] | None = None,
        *,
        snapshot: int | None = None,
        timeout_ms: int | None = None,
    ) -> Any:
        """Run read-only SQL and return every row as a ``pyarrow.Table`` (streamed as Arrow IPC, no row cap)."""
        import pyarrow.ipc

        body = {"sql": sql, "params": params, "snapshot": snapshot, "timeout_ms": timeout_ms}
        response = self._t.request(
            "POST",
            "/v1/sql",
            json={k: v for k, v in body.items() if v is not None},
            headers={"Accept": "application/vnd.apache.arrow.stream"},
        )
        return pyarrow.ipc.open_stream(response.content).read_all()
