"""``Idempotency-Key`` on the write routes (datasets, blob uploads and deletes): a retry gets the first answer.

The route hands over what identifies its request (method and path, plus its parsed body) and the work to do. With
no key the work simply runs. With a key, the request claims (owner, key, hash) in the opsdb's idempotency table (the
one ingest uses): a finished first attempt is replayed with ``Idempotent-Replayed: true`` and nothing runs; the
same key on a different request is 409 ``idempotency_conflict``; one still running is 409
``idempotency_in_progress``; a failed attempt releases the key. The answer is recorded after the work; if the
process dies in between, the claim is taken over after ``ABANDONED_AFTER_SECONDS`` and the work runs again, which
for these routes finds the state the first attempt left (a create says the dataset exists, a delete that it is
gone). Ingest has its own path (``services.ingestd``): its lake commit carries the key, so it is never redone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import Request
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


Answer = tuple[int, Any, dict[str, str]]  # status, JSON body (None: no body), headers


def _response(status: int, body: Any, headers: dict[str, str]) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _replay(recorded: dict[str, Any]) -> Response:
    return _response(recorded["status"], recorded["body"], {**recorded.get("headers", {}), **REPLAYED})


async def idempotent(
    request: Request,
    parts: Sequence[Any],
    work: Callable[[], Awaitable[Answer]],
    *,
    body_digest: Callable[[dict[str, Any]], str] | None = None,
) -> Response:
    """Run ``work`` at most once per Idempotency-Key.

    ``parts`` identify the request beyond its method and path (its parsed body). For a streamed upload, whose bytes
    are only known by reading them, pass ``body_digest``: it finds the SHA-256 of the body in the recorded answer,
    and a retry's body is read and hashed to compare with it (stored nowhere)."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return _response(*await work())
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
        if claim.pending_seconds < ABANDONED_AFTER_SECONDS:
            raise store.in_progress()
        await run_in_threadpool(store.take_over, claim)
    try:
        status, body, headers = await work()
    except BaseException:
        await run_in_threadpool(store.release, claim)
        raise
    await run_in_threadpool(store.complete, claim, {"status": status, "body": body, "headers": headers})
    return _response(status, body, headers)


async def _sha256(request: Request) -> str:
    digest = hashlib.sha256()
    async for chunk in request.stream():
        digest.update(chunk)
    return digest.hexdigest()
