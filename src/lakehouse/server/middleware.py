"""The ASGI middleware every app runs: request id, body size limit, access log, metrics, last-resort 500."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse.apikeys import KEY_PREFIX
from lakehouse.errors import LakehouseError, PayloadTooLarge
from lakehouse.server.logs import request_id_var
from lakehouse.server.metrics import Metrics
from lakehouse.server.problems import problem_response

_log = logging.getLogger("lakehouse.access")
_errors = logging.getLogger("lakehouse.error")
# A request id is taken from the client only when it looks like one: short, safe characters, and not an API key
# (a key sent there by mistake would be logged and echoed in clear).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class _Exchange:
    """One request's bookkeeping: what was received and what was sent."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, request_id: str, limit: int) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.request_id = request_id
        self.limit = limit
        self.received = 0
        self.status = 500
        self.started = False
        self.too_large: PayloadTooLarge | None = None

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.too_large = PayloadTooLarge(
                    f"request body is larger than the limit of {self.limit} bytes", field="body"
                )
                raise self.too_large
        return message

    async def send(self, message: Message) -> None:
        if self.too_large is not None and not self.started:
            return  # the body overflowed: whatever the route answers, the client gets the 413
        await self._send_now(message)

    async def _send_now(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
            headers.append((b"x-request-id", self.request_id.encode()))
            message["headers"] = headers
        await self._send(message)

    async def problem(self, error: LakehouseError) -> None:
        if not self.started:
            app = self.scope.get("app")
            private = getattr(getattr(app, "state", None), "host_details", [])
            response = problem_response(error, self.request_id, private)
            await response(self.scope, self._receive, self._send_now)


class RequestContextMiddleware:
    """Wraps each HTTP request: accepts or makes ``X-Request-ID``, enforces the body limit while the body
    streams, logs one access line with latency, counts metrics by route template, and turns an unhandled
    exception into a logged traceback and a bare problem+json 500."""

    def __init__(self, app: ASGIApp, metrics: Metrics, body_limit: Callable[[Scope], int]) -> None:
        self.app = app
        self.metrics = metrics
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) and not given.startswith(KEY_PREFIX) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        exchange = _Exchange(scope, receive, send, request_id, self.body_limit(scope))
        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            declared = headers.get(b"content-length", b"")
            if declared.isdigit() and int(declared) > exchange.limit:
                await exchange.problem(
                    PayloadTooLarge(f"request body is larger than the limit of {exchange.limit} bytes", field="body")
                )
            else:
                await self.app(scope, exchange.receive, exchange.send)
                if exchange.too_large is not None:
                    await exchange.problem(exchange.too_large)
        except LakehouseError as exc:  # raised while streaming a response, past the exception handlers
            await exchange.problem(exchange.too_large or exc)
        except Exception:
            _errors.exception("unhandled error on %s %s", scope["method"], scope["path"])
            await exchange.problem(
                exchange.too_large
                or LakehouseError("an internal error occurred; the request id identifies it in the logs")
            )
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.in_flight.dec()
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], route, exchange.status, elapsed)
            client = scope.get("client")
            _log.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                exchange.status,
                elapsed * 1000,
                extra={
                    "fields": {
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": exchange.status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "bytes_in": exchange.received,
                        "client": f"{client[0]}:{client[1]}" if client else None,
                    }
                },
            )
            request_id_var.reset(token)
