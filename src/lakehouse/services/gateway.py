"""gateway: the front door's own routes, API key administration under /v1/keys (admin scope)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from lakehouse.apikeys import SCOPES
from lakehouse.core import Lakehouse
from lakehouse.paging import decode_cursor, encode_cursor
from lakehouse.server.auth import require
from lakehouse.server.threads import run_in_threadpool

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="Unique among active keys.")
    scopes: list[str] = Field(min_length=1, description=f"Some of: {', '.join(SCOPES)}.")
    tenant: str | None = Field(
        None, min_length=1, max_length=200, description="Bind the key to this memory tenant (memory, pathways, SQL)."
    )
    namespaces: list[str] | None = Field(
        None, min_length=1, description="Bind the key to these lake namespaces (datasets, collections, SQL)."
    )


def _lakehouse(request: Request) -> Lakehouse:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse


@router.post(
    "",
    status_code=201,
    summary="Create an API key (the secret is shown once)",
    dependencies=[require("admin")],
)
async def create_key(body: KeyCreate, request: Request) -> dict[str, Any]:
    keys = _lakehouse(request).keys
    created = await run_in_threadpool(
        lambda: keys.create(body.name, body.scopes, tenant=body.tenant, namespaces=body.namespaces)
    )
    return {"key": created.key.to_dict(), "secret": created.secret}


@router.get("", summary="List API keys", dependencies=[require("admin")])
async def list_keys(
    request: Request,
    cursor: str | None = Query(None, description="The `next` of the previous page."),
    limit: int = Query(100, ge=1, le=1000),
    include_revoked: bool = Query(False),
) -> dict[str, Any]:
    after = decode_cursor(cursor)
    keys = await run_in_threadpool(_lakehouse(request).keys.list, include_revoked)
    if after is not None:
        ids = [k.id for k in keys]
        keys = keys[ids.index(after) + 1 :] if after in ids else []
    page = keys[:limit]
    return {
        "items": [k.to_dict() for k in page],
        "next": encode_cursor(page[-1].id) if len(keys) > limit else None,
    }


@router.delete("/{name}", summary="Revoke an API key", dependencies=[require("admin")])
async def revoke_key(name: str, request: Request) -> dict[str, Any]:
    key = await run_in_threadpool(_lakehouse(request).keys.revoke, name)
    return {"key": key.to_dict()}
