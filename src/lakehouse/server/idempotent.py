"""``Idempotency-Key`` on the write routes (datasets, blob uploads and deletes): a retry gets the first answer.

The route hands over what identifies its request (method and path, plus its parsed body) and the work to do. With
no key the work simply runs. With a key, the request claims (owner, key, hash) in the opsdb's idempotency table (the
one ingest uses): a finished first attempt is replayed with ``Idempotent-Replayed: true`` and nothing runs; the
same key on a different request is 409 ``idempotency_conflict``; one still running is 409
``idempotency_in_progress``; a failed attempt releases the key. The answer is recorded after the work; if the
process dies in between, the claim is taken over after ``ABANDONED_AFTER_SECONDS`` and the work runs again, which
for these routes finds the state the first attempt left (a create says the dataset exists, a delete that it is
gone). A route whose store records the claim itself passes ``recover``: ingest keeps the claim's token in its lake
commit (``work`` gets the token), so a retry after a crash finds that commit and answers from it, never writing
twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from lakehouse.core import Lakehouse
from lakehouse.errors import IdempotencyConflict
from lakehouse.idempotency import IdempotencyStore, validate_key
from lakehouse.server.threads import run_in_threadpool

ABANDONED_AFTER_SECONDS = 15 * 60
REPLAYED = {"Idempotent-Replayed": "true"}


def owner_of(request: Request) -> str:
    """Idempotency keys are per API key (one namespace for everybody when auth is off)."""
    api_key = getattr(request.state, "api_key", None)
    return api_key.id if api_key is not None else "anonymous"


Answer = tuple[int, BaseModel | None, dict[str, str]]  # status, body (None: no body), headers


def _response(status: int, body: Any, headers: dict[str, str]) -> Response:
    """``body``: a wire model, the JSON recorded for a replay, or ``None`` for none."""
    if body is None:
        return Response(status_code=status, headers=headers)
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers=headers)


def _replay(recorded: dict[str, Any]) -> Response:
    if set(recorded) - {"status", "body", "headers"}:  # an ingest answer recorded bare (before 0.1 kept them all)
        return _response(200, recorded, REPLAYED)
    return _response(recorded["status"], recorded["body"], {**recorded.get("headers", {}), **REPLAYED})


async def idempotent(
    request: Request,
    parts: Sequence[Any],
    work: Callable[[str | None], Awaitable[Answer]],
    *,
    body_digest: Callable[[dict[str, Any]], str] | None = None,
    recover: Callable[[str], Awaitable[Answer | None]] | None = None,
) -> Response:
    """Run ``work`` at most once per Idempotency-Key; ``work`` gets the claim's token (``None`` without a key).

    ``parts`` identify the request beyond its method and path (its parsed body). For a streamed upload, whose bytes
    are only known by reading them, pass ``body_digest``: it finds the SHA-256 of the body in the recorded answer,
    and a retry's body is read and hashed to compare with it (stored nowhere). ``recover(token)``: the answer of a
    first attempt that did its work but died before recording it, when the store can tell (else ``None``)."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return _response(*await work(None))
    validate_key(key)
    lakehouse: Lakehouse = request.app.state.lakehouse
    store = IdempotencyStore(lakehouse.opsdb)
    identity = json.dumps([request.method, request.url.path, list(parts)], sort_keys=True, default=str)
    request_hash = hashlib.sha256(identity.encode()).hexdigest()
    claim = await run_in_threadpool(store.claim, owner_of(request), key, request_hash)
    if claim.response is not None:
        if body_digest is not None and await _sha256(request) != body_digest(claim.response["body"]):
            raise IdempotencyConflict(
                "this Idempotency-Key was used for a different body; use a new key", field="Idempotency-Key"
            )
        return _replay(claim.response)
    if claim.pending_retry:
        found = await recover(claim.token) if recover is not None else None
        if found is not None:  # the first attempt did its work but died before recording its answer
            status, body, headers = found
            recorded = None if body is None else body.model_dump(mode="json")
            await run_in_threadpool(store.complete, claim, {"status": status, "body": recorded, "headers": headers})
            return _response(status, body, {**headers, **REPLAYED})
        if claim.pending_seconds < ABANDONED_AFTER_SECONDS:
            raise store.in_progress()
        await run_in_threadpool(store.take_over, claim)
    try:
        status, body, headers = await work(claim.token)
    except BaseException:
        await run_in_threadpool(store.release, claim)
        raise
    recorded = None if body is None else body.model_dump(mode="json")
    await run_in_threadpool(store.complete, claim, {"status": status, "body": recorded, "headers": headers})
    return _response(status, body, headers)


async def _sha256(request: Request) -> str:
    digest = hashlib.sha256()
    async for chunk in request.stream():
        digest.update(chunk)
    return digest.hexdigest()
