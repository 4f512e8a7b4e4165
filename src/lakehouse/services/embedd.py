"""embedd: ``POST /v1/embed``: texts to vectors with the configured provider, through the embedding cache."""

from __future__ import annotations

from fastapi import APIRouter, Request

from lakehouse.core import Lakehouse
from lakehouse.embed.embeddings import EmbedAnswer, EmbedModels, EmbedRequest
from lakehouse.server.auth import require
from lakehouse.server.threads import run_in_threadpool

router = APIRouter(tags=["embed"])


@router.post("/v1/embed", summary="Embed texts (vectors in input order)", dependencies=[require("read")])
async def embed(body: EmbedRequest, request: Request) -> EmbedAnswer:
    lakehouse: Lakehouse = request.app.state.lakehouse
    result = await run_in_threadpool(lakehouse.embeddings.embed, body.texts, body.model)
    return result.answer()


@router.get("/v1/embed/models", summary="The embedding models a request may name", dependencies=[require("read")])
async def models(request: Request) -> EmbedModels:
    lakehouse: Lakehouse = request.app.state.lakehouse
    names = await run_in_threadpool(lakehouse.embeddings.models)
    return EmbedModels(default=names[0], models=names)
