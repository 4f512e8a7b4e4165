"""gateway: the front door's own routes, API key administration under /v1/keys (admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from lakehouse.apikeys import ApiKey, CreatedKey, CreateKey, KeyAnswer
from lakehouse.core import Lakehouse
from lakehouse.paging import Page, decode_cursor, page_of
from lakehouse.server.auth import require
from lakehouse.server.params import PageQuery
from lakehouse.server.threads import run_in_threadpool

router = APIRouter(prefix="/v1/keys", tags=["keys"])


def _lakehouse(request: Request) -> Lakehouse:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse


@router.post(
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


@router.get("", summary="List API keys", dependencies=[require("admin")])
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


@router.delete("/{name}", summary="Revoke an API key", dependencies=[require("admin")])
async def revoke_key(name: str, request: Request) -> KeyAnswer:
    key = await run_in_threadpool(_lakehouse(request).keys.revoke, name)
    return KeyAnswer(key=key)
