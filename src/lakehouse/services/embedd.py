"""embedd: ``POST /v1/embed``: texts to vectors with the configured provider, through the embedding cache."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from lakehouse.core import Lakehouse
from lakehouse.server.auth import require
from lakehouse.server.threads import run_in_threadpool

router = APIRouter(tags=["embed"])


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[Any] = Field(description="The texts, each a non-empty string (at most embed.max_texts of them).")
    model: str | None = Field(None, description="A model name from GET /v1/embed/models; default: the configured one.")


@router.post("/v1/embed", summary="Embed texts (vectors in input order)", dependencies=[require("read")])
async def embed(body: EmbedRequest, request: Request) -> Any:
    lakehouse: Lakehouse = request.app.state.lakehouse
    result = await run_in_threadpool(lakehouse.embeddings.embed, body.texts, body.model)
    return result.to_dict()


@router.get("/v1/embed/models", summary="The embedding models a request may name", dependencies=[require("read")])
async def models(request: Request) -> Any:
    lakehouse: Lakehouse = request.app.state.lakehouse
    names = await run_in_threadpool(lakehouse.embeddings.models)
    return {"default": names[0], "models": names}
