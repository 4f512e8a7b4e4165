"""Recorded traffic in the lake: the table ``replay.exchanges``, one row per exchange, written a batch per commit.

Columns to filter on (time, endpoint, method, path, status, latency, request id) and the whole exchange as JSON
(``exchange``, the case file's line), so that SQL reads it (``json_extract``) and ``export`` gives case files back.
Only an admin key bound to no tenant reads it through ``/v1/sql``: a recording holds every tenant's bodies. A large
body is a ``BlobRef`` into the recordings bucket; ``export`` puts its bytes back inline (``inline=True``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

import pyarrow as pa

from lakehouse.blobs import BlobStore
from lakehouse.errors import BlobNotFound
from lakehouse.replay.cases import Body, Exchange
from lakehouse.tables.lake import Lake
from lakehouse.tables.names import REPLAY_NAMESPACE

SCHEMA = REPLAY_NAMESPACE
TABLE = f"lake.{SCHEMA}.exchanges"
COLUMNS = (
    ("id", "VARCHAR"),
    ("time", "TIMESTAMPTZ"),
    ("endpoint", "VARCHAR"),
    ("method", "VARCHAR"),
    ("path", "VARCHAR"),
    ("status", "INTEGER"),
    ("latency_ms", "DOUBLE"),
    ("request_id", "VARCHAR"),
    ("exchange", "VARCHAR"),
)
_ARROW = pa.schema(
    [
        ("id", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("endpoint", pa.string()),
        ("method", pa.string()),
        ("path", pa.string()),
        ("status", pa.int32()),
        ("latency_ms", pa.float64()),
        ("request_id", pa.string()),
        ("exchange", pa.string()),
    ]
)


class Recordings:
    """The recorded exchanges of one lakehouse."""

    def __init__(self, lake: Callable[[], Lake], blobs: BlobStore | None = None) -> None:
        self._lake = lake
        self._blobs = blobs
        self._ready = False
        self._lock = threading.Lock()

    def _table(self) -> Lake:
        lake = self._lake()
        with self._lock:
            if not self._ready:
                with lake.cursor() as cur:
                    with lake.write(cur):
                        cur.execute(f"CREATE SCHEMA IF NOT EXISTS lake.{SCHEMA}")
                    with lake.write(cur):
                        columns = ", ".join(f"{n} {t}" for n, t in COLUMNS)
                        cur.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns})")
                self._ready = True
        return lake

    def append(self, exchanges: Sequence[Exchange]) -> None:
        """Write exchanges (answered ones) in one lake commit."""
        if not exchanges:
            return
        rows = {
            "id": [e.id for e in exchanges],
            "time": [e.time for e in exchanges],
            "endpoint": [e.endpoint_name() for e in exchanges],
            "method": [e.request.method for e in exchanges],
            "path": [e.request.path for e in exchanges],
            "status": [e.response.status if e.response else None for e in exchanges],
            "latency_ms": [e.latency_ms for e in exchanges],
            "request_id": [e.request_id for e in exchanges],
            "exchange": [e.model_dump_json(by_alias=True, exclude_none=True) for e in exchanges],
        }
        table = pa.table(rows, schema=_ARROW)
        lake = self._table()
        with lake.cursor() as cur, lake.write(cur):
            cur.register("lh_exchanges", table)
            cur.execute(f"INSERT INTO {TABLE} SELECT * FROM lh_exchanges")  # noqa: S608 - constant names
            cur.unregister("lh_exchanges")

    def export(
        self,
        *,
        since: datetime | None = None,
        route: str | None = None,
        status: int | None = None,
        limit: int | None = None,
        inline: bool = False,
    ) -> list[Exchange]:
        """Recorded exchanges in time order: since a time, on paths matching a glob (``*``), with one status; with
        ``inline``, each body stored as a blob is read back into the exchange (one whose blob is gone stays a
        reference)."""
        lake = self._table()
        where: list[str] = []
        params: list[object] = []
        if since is not None:
            where.append("time >= ?")
            params.append(since)
        if route is not None:
            where.append("path GLOB ?")
            params.append(route)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        sql = f"SELECT exchange FROM {TABLE}"  # noqa: S608 - constant names, values bound
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with lake.cursor() as cur:
            rows = cur.execute(sql, params).fetchall()
        exchanges = [Exchange.model_validate_json(row[0]) for row in rows]
        if inline and self._blobs is not None:
            asyncio.run(self._inline(exchanges, self._blobs))
        return exchanges

    @staticmethod
    async def _inline(exchanges: Sequence[Exchange], blobs: BlobStore) -> None:
        for exchange in exchanges:
            for message in (exchange.request, exchange.response):
                ref = message.body.blob if message is not None else None
                if message is None or ref is None:
                    continue
                try:
                    data = await blobs.get_bytes(ref.bucket, ref.key)
                except BlobNotFound:
                    continue
                message.body = Body.of(data, ref.content_type)
