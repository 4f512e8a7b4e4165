"""The stack's two halves of one request: the gateway forwards it (``Forwarder``), a daemon admits it (``GatewayOnly``).

In ``lakehouse up`` each daemon listens on loopback and answers only requests that carry the stack's shared
secret (``stack.secret``, made anew at each start) in ``X-Lakehouse-Gateway``; ``/health`` and ``/ready`` answer
anyone, so the supervisor and ``lakehouse status`` can probe. The gateway does what a front door does (request
id, body limit, metrics, the key's check) and sends the request on with the key it found
(``X-Lakehouse-Principal``, see ``server.auth``): the daemon holds it to the route's scope, tenant and namespaces.
Bodies stream both ways; a daemon that does not answer is a 503 ``service_unavailable``, never a hang.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

import aiohttp
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send
from yarl import URL

from lakehouse.core import Lakehouse
from lakehouse.errors import Forbidden, ServiceUnavailable
from lakehouse.server.auth import FORWARDED, decode_principal, encode_principal, principal

SECRET_HEADER = b"x-lakehouse-gateway"
PRINCIPAL_HEADER = b"x-lakehouse-principal"
_PROBES = frozenset({"/health", "/ready"})
# Hop-by-hop headers (RFC 9110 7.6.1) are the connection's, not the message's; the gateway sets its own Host, request
# id, secret and principal, and a key goes no further than the gateway.
_NOT_FORWARDED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"authorization",
        b"x-request-id",
        SECRET_HEADER,
        PRINCIPAL_HEADER,
    }
)
# The gateway's server adds its own date and server headers; the request id is its own too.
_NOT_RETURNED = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"trailer", b"upgrade", b"date", b"server", b"x-request-id"}
)
_WHOLE_BODY = 1024 * 1024  # a declared body up to this size is read and sent at once; larger ones stream


class Upstreams:
    """The gateway's way to its daemons: ``route(path)`` names the daemon and its base URL (None: the gateway
    answers itself), one pool of keep-alive connections for all of them (aiohttp's client: a forward costs about a
    third of what httpx's costs), and the secret they ask for."""

    def __init__(self, route: Callable[[str], tuple[str, str] | None], *, secret: str, connect_timeout: float) -> None:
        self.route = route
        self.secret = secret.encode()
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The client, made on first use in the server's event loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=512, limit_per_host=0, enable_cleanup_closed=False),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout),
                auto_decompress=False,  # bytes pass as they came
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class Forwarder:
    """ASGI middleware of the gateway: a request for a route a daemon serves goes to that daemon's process."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        upstreams: Upstreams,
        lakehouse: Lakehouse,
        routes: Mapping[str, Sequence[BaseRoute]] | None = None,
    ) -> None:
        self.app = app
        self.routes = routes or {}  # each daemon's routes, to count a forwarded request by its template
        self.upstreams = upstreams
        self.lakehouse = lakehouse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = self.upstreams.route(scope["path"])
        if target is None:
            await self.app(scope, receive, send)
            return
        name, base = target
        _name_route(scope, self.routes.get(name, ()))
        headers = [(k, v) for k, v in scope["headers"] if k not in _NOT_FORWARDED]
        headers.append((b"x-request-id", str(scope.get("state", {}).get("request_id", "")).encode()))
        headers.append((SECRET_HEADER, self.upstreams.secret))
        if self.lakehouse.settings.auth.enabled:
            authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            found = await principal(self.lakehouse, authorization.decode("latin-1"))
            headers.append((PRINCIPAL_HEADER, encode_principal(found)))
        client = scope.get("client")
        if client:
            headers.append((b"x-forwarded-for", str(client[0]).encode()))
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        content: bytes | AsyncIterator[bytes] | None
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS") and declared is None:
            content = None
        elif declared is not None and declared.isdigit() and int(declared) <= _WHOLE_BODY:
            content = await _read_body(receive)
        else:
            content = _stream_body(receive)
        query = scope["query_string"]
        target = base.encode() + scope["raw_path"] + (b"?" + query if query else b"")
        url = URL(target.decode("latin-1"), encoded=True)
        sent = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
        try:
            response = await self.upstreams.session().request(
                scope["method"], url, headers=sent, data=content, allow_redirects=False
            )
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise ServiceUnavailable(
                f"{name} is not answering; the stack restarts it", field="service", headers={"Retry-After": "1"}
            ) from exc
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [(k, v) for k, v in response.raw_headers if k.lower() not in _NOT_RETURNED],
                }
            )
            if scope["method"] != "HEAD":
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            response.release()


def _name_route(scope: Scope, routes: Sequence[BaseRoute]) -> None:
    """Set the route the request will match in its daemon, so the gateway's metrics count it by its template."""
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            scope["route"] = route
            return


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _stream_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


class GatewayOnly:
    """ASGI middleware of a daemon behind the gateway: it answers requests that carry the stack's secret (and takes
    the gateway's word for the key), and ``/health`` and ``/ready`` from anyone on loopback; nothing else."""

    def __init__(self, app: ASGIApp, *, secret: str) -> None:
        self.app = app
        self.secret = secret.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = b""
        forwarded = b"none"
        for key, value in scope["headers"]:
            if key == SECRET_HEADER:
                given = value
            elif key == PRINCIPAL_HEADER:
                forwarded = value
        state = scope.setdefault("state", {})
        if given and hmac.compare_digest(given, self.secret):
            state[FORWARDED] = decode_principal(forwarded)
        elif scope["path"] in _PROBES:
            state["stack_probe"] = True
        else:
            raise Forbidden("this daemon answers only its gateway; send the request to the gateway's port")
        await self.app(scope, receive, send)
