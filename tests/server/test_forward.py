"""The gateway's forwarding and a daemon's admission, in-process: what goes on to a daemon (and what does not), what
comes back, a daemon that does not answer, and a daemon that answers only its gateway."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lakehouse.app import create_app
from lakehouse.core import Lakehouse
from lakehouse.server.auth import decode_principal
from lakehouse.server.forward import PRINCIPAL_HEADER, SECRET_HEADER, Upstreams
from tests.asgi import AppClient
from tests.conftest import make_settings

SECRET = "stack-secret-for-tests"


@dataclass
class Seen:
    """One request as a daemon received it."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes


class Daemons:
    """Stand-in daemons: one real HTTP server on loopback that records what it is sent and answers like a daemon."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST", "PUT", "DELETE"])])
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False, lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    async def handle(self, request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
        seen = Seen(request.method, request.url.path, request.scope["query_string"].decode(), request.headers, body)
        self.requests.append(seen)
        if request.url.path == "/v1/blobs/big/file.bin":
            digest = hashlib.sha256(body).hexdigest()
            return JSONResponse({"sha256": digest, "size": len(body)}, 201, headers={"etag": '"e1"'})
        if request.url.path == "/v1/memories/search":
            problem = {"type": "urn:lakehouse:problem:query_failed", "status": 422, "errors": [{"kind": "x"}]}
            return JSONResponse(problem, 422, media_type="application/problem+json", headers={"x-request-id": "theirs"})
        raw = request.scope["raw_path"].decode()
        return JSONResponse({"path": raw, "query": request.scope["query_string"].decode()})


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[AppClient, Daemons, Lakehouse]]:
    daemons = Daemons()
    with socket.socket() as sock:  # queryd's port: nothing listens there
        sock.bind(("127.0.0.1", 0))
        closed = int(sock.getsockname()[1])
    settings = make_settings(
        tmp_path / "data",
        auth={"enabled": True},
        stack={"secret": SECRET, "services": ["storaged", "queryd", "pathwayd"], "base_port": 3200},
    )
    lakehouse = Lakehouse(settings)
    app = create_app(settings, gateway=True, lakehouse=lakehouse)
    opened: list[Upstreams] = []
    for middleware in app.user_middleware:  # every daemon is the one stand-in, but queryd answers nowhere
        upstreams = middleware.kwargs.get("upstreams")
        if isinstance(upstreams, Upstreams):
            route = upstreams.route

            def rerouted(path: str, route: Callable[[str], tuple[str, str] | None] = route) -> tuple[str, str] | None:
                found = route(path)
                if found is None:
                    return None
                name = found[0]
                return name, f"http://127.0.0.1:{closed if name == 'queryd' else daemons.port}"

            upstreams.route = rerouted
            opened.append(upstreams)
    client = AppClient(app, lakehouse=lakehouse)
    yield client, daemons, lakehouse
    for upstreams in opened:  # what the app's lifespan does in a server
        client.run(upstreams.aclose)
    client.close()
    lakehouse.close()
    daemons.stop()


def test_the_request_goes_on_with_the_gateways_word_and_without_the_key(
    gateway: tuple[AppClient, Daemons, Lakehouse],
) -> None:
    client, daemons, lakehouse = gateway
    key = lakehouse.keys.create("agent", ["read", "write"], tenant="acme")
    answer = client.get(
        "/v1/memories/m1?tenant=acme&x=%2F",
        headers={
            "Authorization": f"Bearer {key.secret}",
            "X-Request-ID": "req-1",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "X-Lakehouse-Gateway": "forged",
            "X-Lakehouse-Principal": "forged",
        },
    )
    assert answer.status_code == 200
    assert answer.json() == {"path": "/v1/memories/m1", "query": "tenant=acme&x=%2F"}  # raw path and query kept
    assert answer.headers["x-request-id"] == "req-1"
    sent = daemons.requests[-1]
    assert sent.headers["x-request-id"] == "req-1"
    assert sent.headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c")
    assert "authorization" not in sent.headers  # the key goes no further than the gateway
    assert sent.headers.getlist(SECRET_HEADER.decode()) == [SECRET]  # a forged one is dropped
    forwarded = decode_principal(sent.headers[PRINCIPAL_HEADER.decode()].encode())
    assert not isinstance(forwarded, str) and forwarded.name == "agent" and forwarded.tenant == "acme"
    assert sent.headers["x-forwarded-for"]


@pytest.mark.parametrize(
    ("authorization", "principal"),
    [(None, "none"), ("Bearer lh_unknownunknownunknown", "unknown"), ("Basic abc", "none")],
)
def test_no_key_or_an_unknown_key_is_forwarded_as_such(
    gateway: tuple[AppClient, Daemons, Lakehouse], authorization: str | None, principal: str
) -> None:
    client, daemons, _ = gateway
    headers = {"Authorization": authorization} if authorization else {}
    client.get("/v1/memories/m1", headers=headers)
    assert daemons.requests[-1].headers[PRINCIPAL_HEADER.decode()] == principal


def test_status_headers_and_the_problem_body_come_back_unchanged(
    gateway: tuple[AppClient, Daemons, Lakehouse],
) -> None:
    client, _, lakehouse = gateway
    key = lakehouse.keys.create("sql", ["sql"])
    answer = client.post(
        "/v1/memories/search",
        json={"query": "x"},
        headers={"Authorization": f"Bearer {key.secret}", "X-Request-ID": "r-2"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == [{"kind": "x"}]
    assert answer.headers["x-request-id"] == "r-2"  # the gateway's id, never a second one
    assert answer.headers.get_list("x-request-id") == ["r-2"]
    assert "server" not in answer.headers


def test_a_large_body_is_streamed_to_the_daemon_whole(gateway: tuple[AppClient, Daemons, Lakehouse]) -> None:
    client, _daemons, lakehouse = gateway
    key = lakehouse.keys.create("w", ["write"])
    body = bytes(range(256)) * 16384  # 4 MiB: past the size read at once

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    answer = client.put(
        "/v1/blobs/big/file.bin",
        content=chunks(),
        headers={"Authorization": f"Bearer {key.secret}", "Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 201
    assert answer.json() == {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    assert answer.headers["etag"] == '"e1"'


def test_the_gateways_body_limit_holds_before_anything_is_forwarded(
    gateway: tuple[AppClient, Daemons, Lakehouse],
) -> None:
    client, daemons, _ = gateway
    too_big = b"x" * (16 * 1024 * 1024 + 1)
    answer = client.post("/v1/memories", content=too_big, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["kind"] == "payload_too_large"
    assert daemons.requests == []


def test_a_daemon_that_does_not_answer_is_a_503_in_the_problem_shape(
    gateway: tuple[AppClient, Daemons, Lakehouse],
) -> None:
    client, _daemons, lakehouse = gateway
    key = lakehouse.keys.create("sql", ["sql"])
    answer = client.post("/v1/sql", json={"sql": "select 1"}, headers={"Authorization": f"Bearer {key.secret}"})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["errors"][0]["kind"] == "service_unavailable"
    assert "queryd" in body["detail"]
    assert answer.headers["retry-after"] == "1"
    # the other daemons answer
    assert client.get("/v1/memories/m1", headers={"Authorization": f"Bearer {key.secret}"}).status_code == 200


def test_routes_of_daemons_outside_the_stack_are_not_served(gateway: tuple[AppClient, Daemons, Lakehouse]) -> None:
    client, daemons, _ = gateway
    answer = client.get("/v1/collections")  # vectord is not in this stack
    assert answer.status_code == 404
    assert daemons.requests == []
    assert client.get("/health").json()["services"] == ["gateway", "storaged", "queryd", "pathwayd"]


def test_the_gateway_counts_forwarded_requests_by_their_route(gateway: tuple[AppClient, Daemons, Lakehouse]) -> None:
    client, _, _ = gateway
    client.get("/v1/memories/m1")
    metrics = client.get("/metrics").text
    assert 'route="/v1/memories/{memory_id}"' in metrics


# -- a daemon behind the gateway ----------------------------------------------------------------------------------


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[AppClient, Lakehouse]]:
    settings = make_settings(tmp_path / "d", auth={"enabled": True, "public_ready": False}, stack={"secret": SECRET})
    lakehouse = Lakehouse(settings)
    client = AppClient(create_app(settings, ["queryd"], lakehouse=lakehouse, behind_gateway=True), lakehouse=lakehouse)
    yield client, lakehouse
    client.close()
    lakehouse.close()


def test_a_daemon_answers_only_its_gateway(daemon: tuple[AppClient, Lakehouse]) -> None:
    client, lakehouse = daemon
    key = lakehouse.keys.create("sql", ["sql"])
    direct = client.post("/v1/sql", json={"sql": "select 1"}, headers={"Authorization": f"Bearer {key.secret}"})
    assert direct.status_code == 403
    assert direct.json()["errors"][0]["kind"] == "forbidden"
    forged = client.post("/v1/sql", json={"sql": "select 1"}, headers={"X-Lakehouse-Gateway": "guess"})
    assert forged.status_code == 403
    # /health and /ready answer the supervisor's probe without a key
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_a_daemon_takes_the_gateways_word_and_holds_it_to_the_routes_scope(
    daemon: tuple[AppClient, Lakehouse],
) -> None:
    client, lakehouse = daemon
    sql_key = lakehouse.keys.create("sql", ["sql"])
    read_key = lakehouse.keys.create("reader", ["read"])
    from lakehouse.server.auth import encode_principal

    def post(principal: bytes) -> httpx.Response:
        headers = {"X-Lakehouse-Gateway": SECRET, "X-Lakehouse-Principal": principal.decode()}
        return client.post("/v1/sql", json={"sql": "select 1 as x"}, headers=headers)

    assert post(encode_principal(sql_key.key)).status_code == 200
    refused = post(encode_principal(read_key.key))
    assert refused.status_code == 403 and "'sql' scope" in refused.json()["detail"]
    assert post(b"none").status_code == 401
    unknown = post(b"unknown")
    assert unknown.status_code == 401 and "unknown or revoked" in unknown.json()["detail"]
    assert post(b"key.not-base64-json").status_code == 401
