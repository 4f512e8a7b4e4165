"""The substrate's own work as spans of its callers' traces (``[observe] self = true``).

A request that carries a W3C ``traceparent`` header (``00-<trace id>-<parent span id>-<flags>``) to one of the
observed route families — memory (``/v1/memories``, ``/v1/pathways``, ``/v1/playbooks``: kind ``memory``), SQL
(``/v1/sql``: ``tool``), vector search (``/v1/collections/{name}/search``: ``retriever``), validation
(``/v1/validate``: ``guardrail``) — is recorded as a span whose parent is the caller's span: the route, the status,
the duration, the request id, and what the route noted of its work (``note``: memory ids, snapshot ids, row
counts). An agent's trace then shows what it read and wrote in the lakehouse.

Spans are handed to a writer thread and committed in batches (``ObserveStore.ingest``), never on the request's
path; a span the writer cannot store is logged and dropped (observation must not fail the work it observes).
"""

from __future__ import annotations

import logging
import queue
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse.observe import ObserveStore
from lakehouse.observe.rows import SpanRecord

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/v1/(memories|pathways|playbooks)(/|$)"), "memory"),
    (re.compile(r"^/v1/sql$"), "tool"),
    (re.compile(r"^/v1/collections/[^/]+/search$"), "retriever"),
    (re.compile(r"^/v1/validate$"), "guardrail"),
)
_log = logging.getLogger("lakehouse.observe")


def parse_traceparent(value: str) -> tuple[str, str] | None:
    """(trace id, parent span id) of a valid version-00 ``traceparent``; None otherwise (all-zero ids too)."""
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return None
    return match.group(1), match.group(2)


def note(request: Request, **attributes: Any) -> None:
    """What the route did, for its self-observation span (nothing when the request is not observed)."""
    noted = request.scope.get("state", {}).get("observe_notes")
    if noted is not None:
        noted.update({f"lakehouse.{k}": v for k, v in attributes.items() if v is not None})


class _Writer:
    """One thread that commits observed spans in batches."""

    def __init__(self, store: ObserveStore) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[SpanRecord | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lakehouse-self-observe", daemon=True)
        self._thread.start()

    def put(self, record: SpanRecord) -> None:
        self._queue.put(record)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 512:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._write(batch)
                    return
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[SpanRecord]) -> None:
        try:
            self._store.ingest(batch)
        except Exception:
            _log.warning("could not record %d self-observation spans", len(batch), exc_info=True)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)


class SelfObserver:
    """Turns observed requests into spans and hands them to its writer thread (made on first use)."""

    def __init__(self, store: ObserveStore, service: str) -> None:
        self.store = store
        self.service = service
        self._writer: _Writer | None = None
        self._lock = threading.Lock()

    def record(
        self,
        scope: Scope,
        kind: str,
        parent: tuple[str, str],
        status: int,
        started: datetime,
        seconds: float,
        notes: dict[str, Any],
    ) -> None:
        route = getattr(scope.get("route"), "path", None) or str(scope["path"])
        ended = datetime.fromtimestamp(started.timestamp() + seconds, UTC)
        record = SpanRecord(
            trace_id=parent[0],
            span_id=secrets.token_hex(8),
            parent_span_id=parent[1],
            name=f"lakehouse {scope['method']} {route}",
            start_time=started,
            end_time=ended,
            status="error" if status >= 500 else "ok",
            status_message=None if status < 400 else f"HTTP {status}",
            span_kind="server",
            scope_name="lakehouse",
            attributes={
                "lakehouse.span.kind": kind,
                "http.request.method": scope["method"],
                "http.route": route,
                "http.response.status_code": status,
                "lakehouse.request_id": scope.get("state", {}).get("request_id"),
                **notes,
            },
            resource={"service.name": self.service},
        )
        with self._lock:
            if self._writer is None:
                self._writer = _Writer(self.store)
            writer = self._writer
        writer.put(record)

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


class SelfObserveMiddleware:
    def __init__(self, app: ASGIApp, observer: SelfObserver) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = _kind(str(scope["path"]))
        parent = None
        if kind is not None:
            for name, value in scope.get("headers") or []:
                if name == b"traceparent":
                    parent = parse_traceparent(bytes(value).decode("latin-1"))
                    break
        if kind is None or parent is None:
            await self.app(scope, receive, send)
            return
        notes: dict[str, Any] = {}
        scope.setdefault("state", {})["observe_notes"] = notes
        status = 500
        started = datetime.now(UTC)
        clock = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.observer.record(scope, kind, parent, status, started, time.perf_counter() - clock, notes)


def _kind(path: str) -> str | None:
    for pattern, kind in _FAMILIES:
        if pattern.match(path):
            return kind
    return None
