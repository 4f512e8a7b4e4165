"""A synchronous test client over httpx's ASGITransport: in-process requests, no sockets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import Any

import httpx
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI

from lakehouse.core import Lakehouse


class AppClient:
    """``client.get("/health")`` etc., each request run on one event loop in a helper thread."""

    def __init__(self, app: FastAPI, lakehouse: Lakehouse | None = None) -> None:
        self.app = app
        self.lakehouse = lakehouse
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 50000))
        self._http = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self._portal.call(lambda: self._http.request(method, url, **kwargs))
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def run(self, fn: Callable[[], Awaitable[object]]) -> object:
        """Run a coroutine function on the loop the app's requests run on (what a lifespan would do)."""
        return self._portal.call(fn)

    def close(self) -> None:
        self._portal.call(self._http.aclose)
        self._stack.close()
