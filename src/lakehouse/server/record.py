"""Recording live traffic (``[record] enabled``): each exchange of a recorded route, as the client sent it and as it
was answered, goes to the lake table ``replay.exchanges`` (``replay.recordings``) through a writer thread, a batch
per commit, off the request's path.

What is recorded: routes matching ``record.routes`` and none of ``record.exclude_routes`` (never the key and stack
routes by default), a ``record.sample_rate`` share of them; every header but ``record.exclude_headers``
(``Authorization``, cookies, the stack's own); bodies up to ``record.max_body_bytes``, a larger one as its size and
SHA-256 — or, up to ``record.max_blob_bytes``, spooled to a temporary file as it passes and, in the writer thread,
masked like a small one and stored in the blob bucket ``lakehouse-recordings`` (``blobs.names.RECORDINGS_BUCKET``,
only an unbound admin key reaches it) by its SHA-256, the exchange holding a ``BlobRef``. Header values and bodies
are masked with observerd's rules (``observe.redact``) before anything is stored. A failure to write is logged,
never the request's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import random
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse.blobs import BlobStore
from lakehouse.blobs.names import RECORDINGS_BUCKET
from lakehouse.config import RecordSettings
from lakehouse.observe.redact import Redactor
from lakehouse.replay.cases import BlobRef, Body, Exchange, RecordedRequest, RecordedResponse
from lakehouse.replay.compare import glob
from lakehouse.replay.recordings import Recordings

_log = logging.getLogger("lakehouse.record")


class _Capture:
    """A body as it passes: its bytes up to ``limit`` in memory, past it (up to ``spill``) in a temporary file, and
    always its size and SHA-256."""

    def __init__(self, limit: int, spill: int) -> None:
        self.limit, self.spill = limit, spill
        self.kept = bytearray()
        self.file: IO[bytes] | None = None
        self.size = 0
        self.digest = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.digest.update(chunk)
        if self.size <= self.limit:
            self.kept += chunk
        elif self.size <= self.spill:
            if self.file is None:
                self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the writer, or by close()
                self.file.write(self.kept)
                self.kept = bytearray()
            self.file.write(chunk)
        elif self.file is not None:  # past the spill limit: only the size and digest go on
            self.file.close()
            self.file = None
        else:
            self.kept = bytearray()

    def body(self, content_type: str | None, redactor: Redactor) -> Body:
        if self.size > self.limit:
            return Body(
                text=f"[{self.size} bytes, sha256 {self.digest.hexdigest()}: larger than record.max_body_bytes]"
            )
        return _masked(bytes(self.kept), content_type, redactor)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _masked(data: bytes, content_type: str | None, redactor: Redactor) -> Body:
    body = Body.of(data, content_type)
    if body.is_json:
        return Body.model_validate({"json": redactor.value(body.json_value), "is_json": True})
    if body.text is not None:
        return Body(text=redactor.text(body.text))
    return body


@dataclass
class _Pending:
    """An exchange waiting for the writer, with the large bodies it will store as blobs first."""

    exchange: Exchange
    spooled: dict[str, tuple[IO[bytes], str | None]] = field(default_factory=dict)  # "request"/"response" -> file


class RecordWriter:
    """The writer thread: exchanges queued by requests, their large bodies stored as blobs, then a batch per lake
    commit."""

    def __init__(
        self, recordings: Recordings, flush_ms: int, blobs: BlobStore | None = None, redactor: Redactor | None = None
    ) -> None:
        self.recordings = recordings
        self.flush = flush_ms / 1000
        self.blobs, self.redactor = blobs, redactor or Redactor((), ())
        self._queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=100_000)
        self._thread = threading.Thread(target=self._run, name="lakehouse-record", daemon=True)
        self._thread.start()

    def put(self, exchange: Exchange, spooled: dict[str, tuple[IO[bytes], str | None]] | None = None) -> None:
        try:
            self._queue.put_nowait(_Pending(exchange, spooled or {}))
        except queue.Full:
            _log.warning("recording queue full: exchange %s not recorded", exchange.id)
            for file, _ in (spooled or {}).values():
                file.close()

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
                self.recordings.append([self._stored(pending) for pending in batch])
            except Exception:
                _log.exception("recording %d exchange(s) failed", len(batch))

    def _stored(self, pending: _Pending) -> Exchange:
        """The exchange with its spooled bodies masked, stored as blobs and referenced (left as the size and
        digest they already say when storing fails)."""
        exchange = pending.exchange
        for part, (file, content_type) in pending.spooled.items():
            try:
                file.seek(0)
                ref = self._store_blob(_masked(file.read(), content_type, self.redactor), content_type)
            except Exception:
                _log.exception("recording the %s body of exchange %s as a blob failed", part, exchange.id)
                continue
            finally:
                file.close()
            message = exchange.request if part == "request" else exchange.response
            if message is not None:
                message.body = Body(blob=ref)
        return exchange

    def _store_blob(self, body: Body, content_type: str | None) -> BlobRef:
        assert self.blobs is not None
        data = body.raw()
        digest = hashlib.sha256(data).hexdigest()
        key = f"sha256/{digest[:2]}/{digest}"  # content-addressed: the same body twice is stored once
        store = self.blobs

        async def put() -> None:
            async def chunks() -> AsyncIterator[bytes]:
                yield data

            await store.put(RECORDINGS_BUCKET, key, chunks())

        asyncio.run(put())
        return BlobRef(bucket=RECORDINGS_BUCKET, key=key, size=len(data), sha256=digest, content_type=content_type)

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
        limit = self.settings.max_body_bytes
        spill = max(limit, self.settings.max_blob_bytes) if self.writer.blobs is not None else limit
        sent, answered = _Capture(limit, spill), _Capture(limit, spill)
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
            else:
                sent.close()
                answered.close()

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
            sent.close()
            answered.close()
            return
        spooled: dict[str, tuple[IO[bytes], str | None]] = {}
        for part, capture, headers in (
            ("request", sent, request_headers),
            ("response", answered, answer_headers),
        ):
            if capture.file is not None:
                spooled[part] = (capture.file, headers.get("content-type"))
                capture.file = None  # the writer closes it
        self.writer.put(exchange, spooled)


__all__ = ["RecordMiddleware", "RecordWriter"]
