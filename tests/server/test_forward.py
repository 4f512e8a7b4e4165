"""The gateway's forwarding and a daemon's admission, in-process: what goes on to a daemon (and what does not), what
comes back, a daemon that does not answer, and a daemon that answers only its gateway."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from lakehouse.app import create_app
from lakehouse.core import Lakehouse
from lakehouse.server.auth import decode_principal
from lakehouse.server.forward import PRINCIPAL_HEADER, SECRET_HEADER, Upstreams
from tests.asgi import AppClient
from tests.conftest import make_settings

SECRET = "stack-secret-for-tests"


class Daemons:
    """What the mock daemons were sent, and what they answer."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.down: set[str] = set()

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.port in {3204} and "queryd" in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        body = request.read()
        self.requests.append(request)
        self.bodies.append(body)
        if request.url.path == "/v1/blobs/big/file.bin":
            digest = hashlib.sha256(body).hexdigest()
            return _answer(201, {"sha256": digest, "size": len(body)}, {"etag": '"e1"'})
        if request.url.path == "/v1/sql":
            problem = {"type": "urn:lakehouse:problem:query_failed", "status": 422, "errors": [{"kind": "x"}]}
            headers = {"content-type": "application/problem+json", "x-request-id": "theirs", "server": "uvicorn"}
            return _answer(422, problem, headers)
        return _answer(200, {"path": request.url.path, "query": request.url.query.decode()})


def _answer(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    """An answer as a daemon's would arrive: its body still to be streamed."""
    content = json.dumps(body).encode()
    headers = {"content-type": "application/json", "content-length": str(len(content)), **(headers or {})}
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[AppClient, Daemons, Lakehouse]]:
    settings = make_settings(
        tmp_path / "data",
        auth={"enabled": True},
        stack={"secret": SECRET, "services": ["storaged", "queryd", "pathwayd"], "base_port": 3200},
    )
    lakehouse = Lakehouse(settings)
    app = create_app(settings, gateway=True, lakehouse=lakehouse)
    daemons = Daemons()
    # the app's own client, reaching mock daemons instead of processes
    for middleware in app.user_middleware:
        upstreams = middleware.kwargs.get("upstreams")
        if isinstance(upstreams, Upstreams):
            upstreams.client = httpx.AsyncClient(transport=httpx.MockTransport(daemons.handle))
    client = AppClient(app, lakehouse=lakehouse)
    yield client, daemons, lakehouse
    client.close()
    lakehouse.close()


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
    assert sent.url.port == 3207  # pathwayd's port: base_port + 7
    assert sent.headers["x-request-id"] == "req-1"
    assert sent.headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c")
    assert "authorization" not in sent.headers  # the key goes no further than the gateway
    assert sent.headers.get_list(SECRET_HEADER.decode()) == [SECRET]  # a forged one is dropped
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
        "/v1/sql", json={"sql": "select"}, headers={"Authorization": f"Bearer {key.secret}", "X-Request-ID": "r-2"}
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
    client, daemons, lakehouse = gateway
    daemons.down.add("queryd")
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
