"""JSON request bodies held to ``lakehouse.inputs`` before any route sees them.

``JsonBodyMiddleware`` reads a JSON body (already bounded by the size limit) whole and scans its bytes in C for what
could break a rule of ``inputs``: a surrogate or NUL escape, ``NaN``/``Infinity``, a long digit run or exponent,
more brackets than ``server.max_json_depth``. Only then is it parsed, by ``inputs.loads``, and a body that breaks a
rule (a lone surrogate or NUL in any string or key, a non-finite number, an integer past 64 bits, nesting deeper
than the limit) is answered 400/422 in the problem shape before FastAPI, the route or any store sees it. A plain
body costs one scan. Streamed bodies (ingest, blob uploads) pass through: their readers check what they read.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse import inputs
from lakehouse.errors import UnsupportedMediaType

_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F]|\\u0000|\d{19,}|[eE][+-]?\d{3,}|NaN|Infinity")


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            media = bytes(value).split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


def check_body(body: bytes, max_depth: int) -> None:
    """Raise the ``inputs`` error a JSON body earns, if any (a body that is not JSON is left to the route)."""
    if _SUSPECT.search(body) or body.count(b"[") + body.count(b"{") > max_depth:
        try:
            inputs.loads(body, "body", max_depth)
        except inputs.InvalidJson:
            return  # FastAPI answers it as invalid_json, with its position


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp, max_depth: int, streams: Callable[[Scope], bool]) -> None:
        self.app = app
        self.max_depth = max_depth
        self.streams = streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD") or not _is_json(scope) or self.streams(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        check_body(body, self.max_depth)  # a LakehouseError: the request context middleware answers it
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def require_json_content_type(request: Request) -> None:
    """An app-wide dependency: a route that takes a JSON body answers any other declared content type with 415
    (a body sent as ``text/plain`` is not parsed as JSON by guesswork)."""
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None or request.method not in ("POST", "PUT", "PATCH"):
        return
    declared = request.headers.get("content-type")
    if declared is None or _is_json(request.scope):
        return
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers:
        return  # no body: the route's own validation answers
    raise UnsupportedMediaType(
        f"this route takes application/json, not {declared.split(';')[0].strip()[:100]!r}", field="Content-Type"
    )
