"""Worker processes that read OTLP exports: each decodes an export, masks, normalizes and prices its spans and
makes their Arrow table, so that the server's own interpreter only commits (``observe.decode_workers``).

Reading an export is Python work per span (tens of microseconds) under one interpreter lock: in the server's
process it uses one core however many there are. A worker does the same work (``observe.rows.prepare``, the
function the in-process path calls) in a process of its own and hands back the table as Arrow IPC bytes with the
few fields a commit reads of each row (``INDEX_FIELDS``). Workers are spawned (never forked: the server runs
threads, DuckDB's among them) with the observe settings, on the first export. An error a worker raises on purpose
(a malformed body: 400, too many spans: 413) reaches the caller as itself; a worker that dies fails the export with
503 ``store_unavailable`` and the next export starts new workers.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

from lakehouse.config import ObserveSettings
from lakehouse.errors import StoreUnavailable
from lakehouse.observe import otlp
from lakehouse.observe.prices import PriceTable
from lakehouse.observe.redact import Redactor
from lakehouse.observe.rows import INDEX_FIELDS, Prepared, RowMaker, prepare

_state: dict[str, Any] = {}  # in a worker: its settings, redactor and price table


def _start(settings_json: str) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the server stops its workers itself, after its requests
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = ObserveSettings.model_validate_json(settings_json)
    _state["settings"] = settings
    _state["redactor"] = Redactor(settings.redact.patterns, settings.redact.attributes)
    _state["prices"] = PriceTable.from_settings(settings)


def _prepare_export(body: bytes, media: str, tenant: str | None) -> tuple[bytes, list[tuple[Any, ...]], list[str]]:
    """In a worker: the export's table (Arrow IPC stream), each row's ``INDEX_FIELDS`` and the refusals."""
    import pyarrow as pa

    settings: ObserveSettings = _state["settings"]
    decoded = otlp.decode(otlp.parse(body, media), settings.max_spans)
    maker = RowMaker(_state["redactor"], _state["prices"], tenant, datetime.now(UTC))
    prepared = prepare(decoded.spans, maker, decoded.refused)
    if prepared.table is None:
        return b"", [], prepared.refused
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, prepared.table.schema) as writer:
        writer.write_table(prepared.table)
    fields = [tuple(row[name] for name in INDEX_FIELDS) for row in prepared.rows]
    return sink.getvalue().to_pybytes(), fields, prepared.refused


class ExportWorkers:
    """A pool of ``settings.decode_workers`` processes. Thread-safe."""

    def __init__(self, settings: ObserveSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.settings.decode_workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start,
                    initargs=(self.settings.model_dump_json(),),
                )
            return self._pool

    def prepare(self, body: bytes, media: str, tenant: str | None) -> Prepared:
        """The export read by a worker (errors it raises on purpose are raised here)."""
        import pyarrow as pa

        pool = self._executor()
        try:
            data, fields, refused = pool.submit(_prepare_export, body, media, tenant).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise StoreUnavailable("a worker reading exports stopped; send the export again", field="body") from None
        if not fields:
            return Prepared(rows=[], table=None, refused=refused)
        table = pa.ipc.open_stream(data).read_all()
        rows = [dict(zip(INDEX_FIELDS, values, strict=True)) for values in fields]
        return Prepared(rows=rows, table=table, refused=refused)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
