"""A small OpenAI-compatible embeddings server on loopback (a real HTTP server in a thread), for the ``openai``
provider's tests."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DIM = 8


def fake_vector(text: str) -> list[float]:
    """What the fake endpoint answers for ``text``: 8 numbers from its sha256, the same every time."""
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in digest[:DIM]]


@dataclass
class FakeEndpoint:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None  # answer every request with this status


@pytest.fixture
def openai_endpoint() -> Iterator[FakeEndpoint]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = FakeEndpoint(url=f"http://127.0.0.1:{port}/v1")

    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        endpoint.requests.append({"body": body, "authorization": request.headers.get("authorization")})
        if endpoint.fail_with is not None:
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=endpoint.fail_with)
        data = [{"object": "embedding", "index": i, "embedding": fake_vector(t)} for i, t in enumerate(body["input"])]
        data.reverse()  # clients must put rows back by their index
        return JSONResponse({"object": "list", "model": body["model"], "data": data})

    app = Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake embeddings server did not start")
        time.sleep(0.01)
    yield endpoint
    server.should_exit = True
    thread.join(timeout=10)
