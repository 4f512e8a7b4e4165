"""``replay``: a case file sent to one target, in order, each answer recorded beside its request.

Each target keeps the values its own answers gave (``state``), so stateful cases replay on a fresh deployment.
Cases go one at a time (their order is the recording's), at most ``rate`` a second, or spaced as they were
recorded (``timing="original"``); ``concurrency`` sends that many at once, for case files without captures.

Every case is sent with ``api_key``, unless the case names its own ``authorization`` header: then that header,
placeholders filled (``Bearer {{reader}}``, a key an earlier answer of this target gave), is sent instead, and an
empty one sends none. A recording never holds one (the middleware and the HAR import leave it out), so a
credential is never replayed from a recording, only from a case written to test keys.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Literal

import httpx
from pydantic import JsonValue

from lakehouse.errors import ConfigError, RequestValidationFailed
from lakehouse.replay.cases import Body, Exchange, RecordedResponse
from lakehouse.replay.state import captured, fill, placeholders

_NOT_SENT = frozenset({"host", "content-length", "connection", "transfer-encoding", "authorization", "cookie"})
_AUTHORIZATION = "authorization"


def _header_bytes(value: str) -> bytes:
    """A header value as it went over the wire: recorded headers are bytes read as Latin-1 (as ASGI gives them);
    a value written by hand past Latin-1 goes as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _send(client: httpx.Client, exchange: Exchange, values: dict[str, JsonValue], api_key: str | None) -> Exchange:
    if exchange.request.body.blob is not None:
        error = "its body is a reference to a recorded blob: `lakehouse record export` writes it inline"
        return exchange.model_copy(update={"response": None, "error": error, "time": datetime.now(UTC)})
    try:
        request = fill(exchange, values)
    except RequestValidationFailed as exc:  # an earlier case did not answer as it should: this one is not sent
        return exchange.model_copy(update={"response": None, "error": exc.detail, "time": datetime.now(UTC)})
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_SENT}
    own = next((v for k, v in request.headers.items() if k.lower() == _AUTHORIZATION), None)
    if own is not None:
        if own:
            headers[_AUTHORIZATION] = own
    elif api_key:
        headers[_AUTHORIZATION] = f"Bearer {api_key}"
    url = request.path + (f"?{request.query}" if request.query else "")
    raw_headers = {k.encode("latin-1"): _header_bytes(v) for k, v in headers.items()}
    started = time.perf_counter()
    try:
        answer = client.request(request.method, url, headers=raw_headers, content=request.body.raw() or None)
    except httpx.TransportError as exc:
        error = f"no answer: {type(exc).__name__}"
        return exchange.model_copy(update={"response": None, "error": error, "time": datetime.now(UTC)})
    latency = (time.perf_counter() - started) * 1000
    response = RecordedResponse(
        status=answer.status_code,
        headers={k.lower(): v for k, v in answer.headers.items()},
        body=Body.of(answer.content, answer.headers.get("content-type")),
    )
    values.update(captured(exchange, response))
    return exchange.model_copy(
        update={
            "response": response,
            "error": None,
            "latency_ms": round(latency, 3),
            "request_id": answer.headers.get("x-request-id"),
            "time": datetime.now(UTC),
        }
    )


def replay(
    exchanges: Iterable[Exchange],
    target: str,
    *,
    api_key: str | None = None,
    rate: float | None = None,
    timing: Literal["none", "original"] = "none",
    concurrency: int = 1,
    timeout: float = 60.0,
) -> Iterator[Exchange]:
    """Send every case to ``target`` and yield it with the target's answer, in the cases' order."""
    cases = list(exchanges)
    if concurrency > 1 and any(e.capture or placeholders(e.request) for e in cases):
        raise ConfigError("cases that capture or use {{values}} are sent one at a time: leave out --concurrency")
    values: dict[str, JsonValue] = {}
    with httpx.Client(base_url=target, timeout=timeout) as client:
        if concurrency > 1:
            with ThreadPoolExecutor(concurrency) as pool:
                yield from pool.map(lambda e: _send(client, e, {}, api_key), cases)
            return
        started, first = time.monotonic(), None
        for index, exchange in enumerate(cases):
            if timing == "original" and exchange.time is not None:
                first = first or exchange.time
                wait = (exchange.time - first).total_seconds() - (time.monotonic() - started)
                if wait > 0:
                    time.sleep(wait)
            elif rate:
                wait = index / rate - (time.monotonic() - started)
                if wait > 0:
                    time.sleep(wait)
            yield _send(client, exchange, values, api_key)
