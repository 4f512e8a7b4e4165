"""gateway: the front door's own routes: API key administration under /v1/keys, and in a stack (``lakehouse up``)
the processes behind it under /v1/stack (both admin scope; the stack's routes need a key bound to no tenant)."""

from __future__ import annotations

import os
import signal
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from lakehouse.apikeys import ApiKey, CreatedKey, CreateKey, KeyAnswer
from lakehouse.core import Lakehouse
from lakehouse.errors import Conflict, Forbidden, NotFound
from lakehouse.paging import Page, decode_cursor, page_of
from lakehouse.server.auth import api_key, require
from lakehouse.server.params import PageQuery
from lakehouse.server.threads import run_in_threadpool
from lakehouse.stack_state import DaemonRestarted, RestartDaemon, StackState, read_state

keys_router = APIRouter(prefix="/v1/keys", tags=["keys"])


def _lakehouse(request: Request) -> Lakehouse:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse


@keys_router.post(
    "",
    status_code=201,
    summary="Create an API key (the secret is shown once)",
    dependencies=[require("admin")],
)
async def create_key(body: CreateKey, request: Request) -> CreatedKey:
    keys = _lakehouse(request).keys
    return await run_in_threadpool(
        lambda: keys.create(body.name, body.scopes, tenant=body.tenant, namespaces=body.namespaces)
    )


@keys_router.get("", summary="List API keys", dependencies=[require("admin")])
async def list_keys(
    request: Request,
    paging: Annotated[PageQuery, Depends()],
    include_revoked: Annotated[bool, Query(description="Also revoked keys.")] = False,
) -> Page[ApiKey]:
    after = decode_cursor(paging.cursor)
    keys = await run_in_threadpool(_lakehouse(request).keys.list, include_revoked)
    if after is not None:
        ids = [k.id for k in keys]
        keys = keys[ids.index(after) + 1 :] if after in ids else []
    return page_of(keys, paging.limit, lambda k: k.id)


@keys_router.delete("/{name}", summary="Revoke an API key", dependencies=[require("admin")])
async def revoke_key(name: str, request: Request) -> KeyAnswer:
    key = await run_in_threadpool(_lakehouse(request).keys.revoke, name)
    return KeyAnswer(key=key)


stack_router = APIRouter(prefix="/v1/stack", tags=["stack"])


def _stack_state(request: Request) -> StackState:
    """The running stack this gateway fronts, for a key bound to no tenant or namespace; 404 outside a stack."""
    key = api_key(request)
    if key is not None and not key.unbound:
        raise Forbidden(f"key {key.name!r} is bound to a tenant or namespaces and cannot manage the stack")
    settings = _lakehouse(request).settings
    state = read_state(settings.in_data_dir(settings.stack.state_file)) if request.app.state.stack_gateway else None
    if state is None or not state.running:
        raise NotFound("this server is not the gateway of a running stack (`lakehouse up`)", field="stack")
    return state


@stack_router.get(
    "", summary="The processes of the stack: pid, port, state, uptime, restarts", dependencies=[require("admin")]
)
async def stack_status(request: Request) -> StackState:
    return await run_in_threadpool(_stack_state, request)


@stack_router.post(
    "/restart",
    summary="Stop a daemon for the supervisor to restart (its routes answer 503 meanwhile)",
    dependencies=[require("admin")],
)
async def restart_daemon(body: RestartDaemon, request: Request) -> DaemonRestarted:
    state = await run_in_threadpool(_stack_state, request)
    process = next((p for p in state.processes if p.name == body.service), None)
    if process is None:
        raise NotFound(f"{body.service} is not a daemon of this stack", field="service")
    if process.pid is None or process.state != "up":
        raise Conflict(f"{body.service} is {process.state}; only a daemon that is up can be restarted", field="service")
    pid = process.pid
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return DaemonRestarted(service=body.service, pid=pid, stopped=True)
    deadline = time.monotonic() + _lakehouse(request).settings.stack.drain_timeout_s

    def gone() -> bool:  # the daemon drains its requests, then exits; the supervisor starts a new one
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.02)
        return False

    return DaemonRestarted(service=body.service, pid=pid, stopped=await run_in_threadpool(gone))


router = APIRouter()  # the service's routes: keys and the stack (each route keeps its full path)
router.routes.extend([*keys_router.routes, *stack_router.routes])
