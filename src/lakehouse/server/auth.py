"""API-key auth as FastAPI dependencies: each route declares the scope it needs with ``require(scope)``; keys
bound to a tenant or to lake namespaces are held to them here (``BOUND_TENANT``, ``check_namespace``, ``sql_grant``).

In a stack (``lakehouse up``) the gateway checks the key (``principal``) and a daemon behind it takes the gateway's
word for it (``FORWARDED``, set by ``server.forward.GatewayOnly``): scopes, tenants and namespaces are still held
by the route that knows them, in the daemon, by the same dependencies.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import Depends, Request

from lakehouse.apikeys import SCOPES, ApiKey
from lakehouse.blobs.names import RECORDINGS_BUCKET
from lakehouse.core import Lakehouse
from lakehouse.errors import (
    Forbidden,
    LakehouseError,
    MemoryNotFound,
    PermissionDenied,
    TenantForbidden,
    Unauthenticated,
)
from lakehouse.server.threads import run_in_threadpool
from lakehouse.tables.datasets import split_name
from lakehouse.tables.names import collection_namespace
from lakehouse.tables.sandbox import Grant

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lakehouse"'}

# What a request's Authorization header came to: no bearer key, a key nobody has (or revoked), or the key.
Principal = ApiKey | Literal["none", "unknown"]
FORWARDED = "forwarded_principal"  # the scope state key a daemon behind the gateway keeps the gateway's word under


def bearer(authorization: str) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def principal(lakehouse: Lakehouse, authorization: str) -> Principal:
    """Who an Authorization header names (the gateway's half of auth in a stack)."""
    token = bearer(authorization)
    if token is None:
        return "none"
    key = await run_in_threadpool(lakehouse.keys.verify, token)
    return "unknown" if key is None else key


def encode_principal(found: Principal) -> bytes:
    """The header value the gateway forwards: ``none``, ``unknown`` or ``key.<base64url of the key's JSON>``."""
    if isinstance(found, str):
        return found.encode()
    return b"key." + base64.urlsafe_b64encode(found.model_dump_json().encode())


def decode_principal(value: bytes) -> Principal:
    """The gateway's word as sent by ``encode_principal``; anything else is no key at all."""
    if value == b"unknown":
        return "unknown"
    if value.startswith(b"key."):
        try:
            return ApiKey.model_validate_json(base64.urlsafe_b64decode(value[4:]))
        except ValueError:
            return "none"
    return "none"


async def _authenticate(request: Request, scope: str) -> ApiKey | None:
    lakehouse: Lakehouse = request.app.state.lakehouse
    if not lakehouse.settings.auth.enabled:
        return None
    state = request.scope.get("state", {})
    found: Principal = (
        state[FORWARDED] if FORWARDED in state else await principal(lakehouse, request.headers.get("authorization", ""))
    )
    if found == "none":
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'", headers=_CHALLENGE)
    if isinstance(found, str):
        raise Unauthenticated("the API key is unknown or revoked", headers=_CHALLENGE)
    key = found
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
        if getattr(lakehouse.settings.auth, setting) or request.scope.get("state", {}).get("stack_probe"):
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


def api_key(request: Request) -> ApiKey | None:
    """The key the request was admitted with (None with auth off)."""
    key: ApiKey | None = getattr(request.state, "api_key", None)
    return key


# -- keys bound to a tenant --------------------------------------------------------------------------------------

_BY_ID = ("memory_id", "pathway_id", "playbook_id")


async def _bound_tenant(request: Request) -> None:
    """After ``require``: a key bound to a tenant is answered only within it. The scope's tenant comes from the query
    (reads) or the body's ``scope`` (writes); a request about one memory, run or playbook of another tenant is
    answered exactly as a missing one (404), any other request naming another tenant 403 ``tenant_forbidden``.
    A request whose scope is missing or malformed passes on to the route, which refuses it (422)."""
    key = api_key(request)
    if key is None or key.tenant is None:
        return
    tenant: Any = request.query_params.get("tenant")
    if tenant is None and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        try:
            body = await request.json()
        except Exception:  # no JSON body: the route answers
            return
        scope = body.get("scope") if isinstance(body, dict) else None
        tenant = scope.get("tenant") if isinstance(scope, dict) else None
    if tenant is None or tenant == key.tenant:
        return
    for name in _BY_ID:
        if name in request.path_params:
            raise MemoryNotFound(f"no memory {request.path_params[name]} in this scope", field="id")
    raise TenantForbidden(f"key {key.name!r} is bound to one tenant and cannot reach another", field="scope.tenant")


BOUND_TENANT = Depends(_bound_tenant)


# -- keys bound to lake namespaces -------------------------------------------------------------------------------


def check_namespace(request: Request, namespace: str, what: str) -> None:
    """403 ``permission_denied`` when the request's key is bound to namespaces and ``namespace`` is not one."""
    key = api_key(request)
    if key is not None and not key.reaches(namespace):
        raise PermissionDenied(f"key {key.name!r} may not use {what} (namespace {namespace!r})", field="name")


def reaches(request: Request) -> Callable[[str], bool]:
    """Whether the request's key may use a namespace (for filtering lists)."""
    key = api_key(request)
    return (lambda _ns: True) if key is None else key.reaches


def sql_grant(request: Request) -> Grant:
    """What the request's key may read through /v1/sql: its namespaces; every tenant's memory for an admin key bound
    to no tenant (and with auth off), only its tenant's for a key bound to one, none for other keys."""
    key = api_key(request)
    if key is None:
        return Grant()
    namespaces = frozenset(key.namespaces) if key.namespaces is not None else None
    if key.tenant is not None:
        return Grant(namespaces=namespaces, memory="tenant", tenant=key.tenant)
    return Grant(namespaces=namespaces, memory="all" if "admin" in key.scopes else "none")


async def _dataset_in_namespace(request: Request) -> None:
    """After ``require``: the dataset a path names (``{name}``) must be in one of the key's namespaces."""
    name = request.path_params.get("name")
    if not isinstance(name, str):
        return
    try:
        namespace, _ = split_name(name)
    except LakehouseError:
        return  # the route refuses the name itself
    check_namespace(request, namespace, f"dataset {name!r}")


async def _collection_in_namespace(request: Request) -> None:
    """After ``require``: the collection a path names (``{name}``) must be in one of the key's namespaces."""
    name = request.path_params.get("name")
    if isinstance(name, str):
        check_namespace(request, collection_namespace(name), f"collection {name!r}")


async def _recordings_bucket(request: Request) -> None:
    """After ``require``: the bucket of recorded bodies (``RECORDINGS_BUCKET``) holds every tenant's traffic, so
    only an admin key bound to no tenant or namespace reaches it (any caller with auth off), as for ``replay.*``."""
    if request.path_params.get("bucket") != RECORDINGS_BUCKET:
        return
    key = api_key(request)
    if key is not None and not ("admin" in key.scopes and key.tenant is None and key.namespaces is None):
        raise Forbidden(
            f"bucket {RECORDINGS_BUCKET} holds recorded traffic: it needs an admin key bound to no tenant or namespace",
            field="bucket",
        )


RECORDINGS_BUCKET_GUARD = Depends(_recordings_bucket)
DATASET_NAMESPACE = Depends(_dataset_in_namespace)
COLLECTION_NAMESPACE = Depends(_collection_in_namespace)
