"""API-key auth as FastAPI dependencies: each route declares the scope it needs with ``require(scope)``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from lakehouse.apikeys import SCOPES, ApiKey
from lakehouse.core import Lakehouse
from lakehouse.errors import Forbidden, Unauthenticated

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lakehouse"'}


async def _authenticate(request: Request, scope: str) -> ApiKey | None:
    lakehouse: Lakehouse = request.app.state.lakehouse
    if not lakehouse.settings.auth.enabled:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'", headers=_CHALLENGE)
    key = await run_in_threadpool(lakehouse.keys.verify, token.strip())
    if key is None:
        raise Unauthenticated("the API key is unknown or revoked", headers=_CHALLENGE)
    if not key.allows(scope):
        raise Forbidden(f"key {key.name!r} does not have the {scope!r} scope", field="scope")
    request.state.api_key = key
    return key


def require(scope: str) -> Any:
    """A dependency that admits a request whose key has ``scope`` (any request when auth is off)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def dependency(request: Request) -> ApiKey | None:
        return await _authenticate(request, scope)

    dependency.required_scope = scope  # type: ignore[attr-defined]
    return Depends(dependency)


def require_unless_public(setting: str) -> Any:
    """For /ready, /metrics and /openapi.json: open when ``auth.<setting>`` is true, else the read scope."""

    async def dependency(request: Request) -> ApiKey | None:
        lakehouse: Lakehouse = request.app.state.lakehouse
        if getattr(lakehouse.settings.auth, setting):
            return None
        return await _authenticate(request, "read")

    dependency.required_scope = f"read unless auth.{setting}"  # type: ignore[attr-defined]
    return Depends(dependency)


def route_scope(dependencies: list[Callable[..., Awaitable[Any]]]) -> str | None:
    """The scope a route's dependencies declare (used by tests and the route docs)."""
    for dep in dependencies:
        scope = getattr(dep, "required_scope", None)
        if scope:
            return str(scope)
    return None
