"""Client methods for ingest and /v1/sql."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import quote

from lakehouse.client._http import ChunkFile, Transport, idempotency
from lakehouse.tables.model import (
    CancelledQuery,
    IngestSummary,
    RunningQueries,
    RunningQuery,
    SqlAnswer,
    SqlRequest,
)
from lakehouse.tables.query import FRAME_OUTPUTS, as_frame

ROUTES = {
    ("POST", "/v1/datasets/{name}/ingest"),
    ("POST", "/v1/sql"),
    ("GET", "/v1/queries"),
    ("DELETE", "/v1/queries/{query_id}"),
}
Output = Literal["json", "rows", "arrow", "pandas", "polars"]

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
        data: bytes | IO[bytes] | Iterable[bytes] | Path | Any,
        *,
        format: str | None = None,
        mode: str = "append",
        key: list[str] | None = None,
        create: bool = False,
        schema: str | None = None,
        on_error: str | None = None,
        idempotency_key: str | None = None,
    ) -> IngestSummary:
        """Write ``data`` into ``dataset`` as one commit: bytes, a binary file, chunks or a path (streamed) in
        ``format``; or, without ``format``, anything that exports an Arrow stream (a ``pyarrow.Table``, a pandas or
        polars DataFrame), sent as Arrow IPC. ``schema`` checks every row against a registered schema first
        (``on_error``: ``reject`` or ``skip``). With ``idempotency_key`` a retry returns the first answer and writes
        nothing."""
        if hasattr(data, "__arrow_c_stream__") and format in (None, "arrow"):
            from lakehouse.tables.ingest import write_arrow_stream

            buffer = io.BytesIO()
            write_arrow_stream(data, buffer)
            data, format = buffer.getvalue(), "arrow"
        if format not in CONTENT_TYPES:
            raise ValueError(f"format must be one of {', '.join(CONTENT_TYPES)}")
        params: dict[str, Any] = {"mode": mode, "create": str(create).lower()}
        if key:
            params["key"] = ",".join(key)
        if schema is not None:
            params["schema"] = schema
        if on_error is not None:
            params["on_error"] = on_error
        headers = {"Content-Type": CONTENT_TYPES[format], **idempotency(idempotency_key)}
        if isinstance(data, Path):
            with data.open("rb") as handle:
                return self._post(dataset, handle, params, headers)
        return self._post(dataset, data, params, headers)

    def _post(self, name: str, data: Any, params: dict[str, Any], headers: dict[str, str]) -> IngestSummary:
        content = data
        if hasattr(data, "read"):
            stream = data

            def chunks() -> Any:
                while block := stream.read(1024 * 1024):
                    yield block

            content = chunks()
        return self._t.call(
            "POST",
            f"/v1/datasets/{quote(name, safe='')}/ingest",
            IngestSummary,
            params=params,
            content=content,
            headers=headers,
        )

    def sql(
        self,
        sql: str,
        params: list[Any] | dict[str, Any] | None = None,
        *,
        snapshot: int | None = None,
        as_of: str | None = None,
        max_rows: int | None = None,
        timeout_ms: int | None = None,
        query_id: str | None = None,
        output: Output = "json",
    ) -> Any:
        """Run read-only SQL.

        ``output``: ``"json"`` (default) the answer as ``SqlAnswer`` (at most ``max_rows`` rows); ``"rows"`` its
        rows as tuples; ``"arrow"`` a ``pyarrow.Table``, ``"pandas"`` a DataFrame, ``"polars"`` a polars
        DataFrame, these three streamed as Arrow IPC with every row (``max_rows`` does not apply). ``query_id``
        names the query so that :meth:`cancel_query` can stop it from another thread."""
        given = {"sql": sql, "params": params, "snapshot": snapshot, "as_of": as_of, "timeout_ms": timeout_ms}
        given["query_id"] = query_id
        if output in FRAME_OUTPUTS:
            request = SqlRequest.checked({k: v for k, v in given.items() if v is not None})
            return as_frame(self._arrow(request), output)
        if output not in ("json", "rows"):
            raise ValueError("output must be one of json, rows, arrow, pandas, polars")
        given["max_rows"] = max_rows
        request = SqlRequest.checked({k: v for k, v in given.items() if v is not None})
        result = self._t.call("POST", "/v1/sql", SqlAnswer, body=request)
        if output == "rows":
            return [tuple(row) for row in result.rows]
        return result

    def sql_arrow(
        self,
        sql: str,
        params: list[Any] | dict[str, Any] | None = None,
        *,
        snapshot: int | None = None,
        as_of: str | None = None,
        timeout_ms: int | None = None,
        query_id: str | None = None,
    ) -> Any:
        """Run read-only SQL and return every row as a ``pyarrow.Table`` (``sql(..., output="arrow")``)."""
        return self.sql(
            sql, params, snapshot=snapshot, as_of=as_of, timeout_ms=timeout_ms, query_id=query_id, output="arrow"
        )

    def _arrow(self, request: SqlRequest) -> Any:
        """The result as a ``pyarrow.Table``, decoded batch by batch as the Arrow IPC stream arrives."""
        import pyarrow.ipc

        body = request.model_dump(mode="json", exclude_unset=True)
        with self._t.stream(
            "POST", "/v1/sql", json=body, headers={"Accept": "application/vnd.apache.arrow.stream"}
        ) as response:
            source = io.BufferedReader(ChunkFile(response.iter_raw(1024 * 1024)), 1024 * 1024)
            return pyarrow.ipc.open_stream(source).read_all()

    def queries(self) -> list[RunningQuery]:
        """The queries running on the server (your key's; every query for an admin key)."""
        return self._t.call("GET", "/v1/queries", RunningQueries).items

    def cancel_query(self, query_id: str) -> CancelledQuery:
        """Cancel a running query: its own call raises ``QueryCancelled``."""
        return self._t.call("DELETE", f"/v1/queries/{quote(query_id, safe='')}", CancelledQuery)
