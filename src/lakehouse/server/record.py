"""Recording live traffic (``[record] enabled``): each exchange of a recorded route, as the client sent it and as it
was answered, goes to the lake table ``replay.exchanges`` (``replay.recordings``) through a writer thread, a batch
per commit, off the request's path.

What is recorded: routes matching ``record.routes`` and none of ``record.exclude_routes`` (never the key and stack
routes by default), a ``record.sample_rate`` share of them; every header but ``record.exclude_headers``
(``Authorization``, cookies, the stack's own); bodies up to ``record.max_body_bytes``, a larger one as its size and
SHA-256. Header values and bodies are masked with observerd's rules (``observe.redact``) before anything is stored.
A failure to write is logged, never the request's.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import threading
import time
import uuid
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse.config import RecordSettings
from lakehouse.observe.redact import Redactor
from lakehouse.replay.cases import Body, Exchange, RecordedRequest, RecordedResponse
from lakehouse.replay.compare import glob
from lakehouse.replay.recordings import Recordings

_log = logging.getLogger("lakehouse.record")


class _Capture:
    """A body as it passes: its first bytes (up to the limit), its size and its SHA-256."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.size = 0
        self.digest = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.digest.update(chunk)
        if len(self.kept) <= self.limit:
            self.kept += chunk[: self.limit + 1 - len(self.kept)]

    def body(self, content_type: str | None, redactor: Redactor) -> Body:
        if self.size > self.limit:
            return Body(
                text=f"[{self.size} bytes, sha256 {self.digest.hexdigest()}: larger than record.max_body_bytes]"
            )
        body = Body.of(bytes(self.kept), content_type)
        if body.is_json:
            return Body.model_validate({"json": redactor.value(body.json_value), "is_json": True})
        if body.text is not None:
            return Body(text=redactor.text(body.text))
        return body


class RecordWriter:
    """The writer thread: exchanges queued by requests, written a batch per lake commit."""

    def __init__(self, recordings: Recordings, flush_ms: int) -> None:
        self.recordings = recordings
        self.flush = flush_ms / 1000
        self._queue: queue.Queue[Exchange | None] = queue.Queue(maxsize=100_000)
        self._thread = threading.Thread(target=self._run, name="lakehouse-record", daemon=True)
        self._thread.start()

    def put(self, exchange: Exchange) -> None:
        try:
            self._queue.put_nowait(exchange)
        except queue.Full:
            _log.warning("recording queue full: exchange %s not recorded", exchange.id)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = time.monotonic() + self.flush
            while (left := deadline - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                self.recordings.append(batch)
            except Exception:
                _log.exception("recording %d exchange(s) failed", len(batch))

    def close(self) -> None:
        """Write what is queued and stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)


class RecordMiddleware:
    """ASGI middleware: notes each recorded exchange and hands it to the writer after the answer is sent."""

    def __init__(self, app: ASGIApp, *, settings: RecordSettings, writer: RecordWriter, redactor: Redactor) -> None:
        self.app = app
        self.settings = settings
        self.writer = writer
        self.redactor = redactor
        self.routes = [glob(p) for p in settings.routes]
        self.excluded = [glob(p) for p in settings.exclude_routes]
        self.hidden = frozenset(h.lower() for h in settings.exclude_headers)

    def _recorded(self, path: str) -> bool:
        return (
            any(r.fullmatch(path) for r in self.routes)
            and not any(r.fullmatch(path) for r in self.excluded)
            and (self.settings.sample_rate >= 1 or random.random() < self.settings.sample_rate)
        )

    def _headers(self, raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in raw:
            name = key.decode("latin-1").lower()
            if name not in self.hidden:
                out[name] = self.redactor.text(value.decode("latin-1")) or ""
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._recorded(scope["path"]):
            await self.app(scope, receive, send)
            return
        started, when = time.perf_counter(), datetime.now(UTC)
        sent, answered = _Capture(self.settings.max_body_bytes), _Capture(self.settings.max_body_bytes)
        status, response_headers = 0, []

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                sent.add(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status, response_headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                answered.add(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        finally:
            if status:
                self._note(scope, sent, answered, status, response_headers, started, when)

    def _note(
        self,
        scope: Scope,
        sent: _Capture,
        answered: _Capture,
        status: int,
        response_headers: list[tuple[bytes, bytes]],
        started: float,
        when: datetime,
    ) -> None:
        try:
            request_headers = self._headers(list(scope.get("headers") or []))
            answer_headers = self._headers(response_headers)
            request_id = str(scope.get("state", {}).get("request_id") or "") or None
            exchange = Exchange(
                id=uuid.uuid4().hex,  # a client may send the same request id twice; a case id is unique
                request=RecordedRequest(
                    method=scope["method"],
                    path=scope["path"],
                    query=self.redactor.text(scope.get("query_string", b"").decode("latin-1")) or "",
                    headers=request_headers,
                    body=sent.body(request_headers.get("content-type"), self.redactor),
                ),
                response=RecordedResponse(
                    status=status,
                    headers=answer_headers,
                    body=answered.body(answer_headers.get("content-type"), self.redactor),
                ),
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                request_id=request_id,
                time=when,
            )
        except Exception:  # a recording never fails a request
            _log.exception("recording %s %s failed", scope.get("method"), scope.get("path"))
            return
        self.writer.put(exchange)


__all__ = ["RecordMiddleware", "RecordWriter"]
