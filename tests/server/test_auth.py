"""API-key auth: off by default, every /v1 route scoped, 401 without a key, 403 with the wrong scope."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.routing import APIRoute

from lakehouse.server.auth import route_scope
from lakehouse.services import SERVICES
from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem


@pytest.fixture
def auth_client(make_client: Callable[..., AppClient]) -> AppClient:
    return make_client(auth={"enabled": True})


def key(client: AppClient, name: str, scopes: str) -> dict[str, str]:
    assert client.lakehouse is not None
    secret = client.lakehouse.keys.create(name, scopes).secret
    return {"Authorization": f"Bearer {secret}"}


def test_every_v1_route_declares_a_scope() -> None:
    checked = 0
    for service in SERVICES.values():
        for route in service.router.routes:
            assert isinstance(route, APIRoute)
            scope = route_scope([d.call for d in route.dependant.dependencies if d.call is not None])
            assert scope in ("read", "write", "sql", "admin"), f"{route.path} declares no scope"
            checked += 1
    assert checked >= 8


def test_the_scope_check_sees_a_route_without_one() -> None:
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/v1/unscoped")
    async def unscoped() -> None: ...

    [route] = router.routes
    assert isinstance(route, APIRoute)
    assert route_scope([d.call for d in route.dependant.dependencies if d.call is not None]) is None


def test_auth_off_by_default_opens_v1(client: AppClient) -> None:
    assert client.put("/v1/blobs/bkt/k", content=b"x").status_code == 201
    assert client.get("/v1/blobs/bkt/k").content == b"x"


def test_missing_or_malformed_key_is_401(auth_client: AppClient) -> None:
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "lh_x"},
    ):
        response = auth_client.get("/v1/blobs/bkt", headers=headers)
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_unknown_key_is_401(auth_client: AppClient) -> None:
    real = key(auth_client, "real", "read")["Authorization"]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    for token in ("Bearer lh_" + "A" * 43, forged, "Bearer nonsense"):
        assert_problem(auth_client.get("/v1/blobs/bkt", headers={"Authorization": token}), 401, "unauthenticated")


def test_scopes(auth_client: AppClient) -> None:
    reader = key(auth_client, "reader", "read")
    writer = key(auth_client, "writer", "read,write")
    admin = key(auth_client, "admin", "admin")
    assert auth_client.get("/v1/blobs/bkt", headers=reader).status_code == 200
    assert_problem(auth_client.put("/v1/blobs/bkt/k", content=b"x", headers=reader), 403, "forbidden")
    assert_problem(auth_client.delete("/v1/blobs/bkt/k", headers=reader), 403, "forbidden")
    assert_problem(auth_client.get("/v1/keys", headers=writer), 403, "forbidden")
    assert auth_client.put("/v1/blobs/bkt/k", content=b"x", headers=writer).status_code == 201
    assert auth_client.get("/v1/keys", headers=admin).status_code == 200
    assert auth_client.delete("/v1/blobs/bkt/k", headers=admin).status_code == 204
    # a refused write changed nothing
    assert auth_client.head("/v1/blobs/bkt/k", headers=reader).status_code == 404


def test_revoked_key_is_401(auth_client: AppClient) -> None:
    headers = key(auth_client, "temp", "read")
    assert auth_client.get("/v1/blobs/bkt", headers=headers).status_code == 200
    assert auth_client.lakehouse is not None
    auth_client.lakehouse.keys.revoke("temp")
    assert_problem(auth_client.get("/v1/blobs/bkt", headers=headers), 401, "unauthenticated")


def test_health_stays_open_and_ops_routes_follow_settings(make_client: Callable[..., AppClient]) -> None:
    open_ops = make_client(auth={"enabled": True})
    for path in ("/health", "/ready", "/metrics", "/openapi.json"):
        assert open_ops.get(path).status_code == 200, path
    closed = make_client(
        auth={"enabled": True, "public_ready": False, "public_metrics": False, "public_openapi": False}
    )
    assert closed.get("/health").status_code == 200
    reader = key(closed, "reader", "read")
    for path in ("/ready", "/metrics", "/openapi.json"):
        assert_problem(closed.get(path), 401, "unauthenticated")
        assert closed.get(path, headers=reader).status_code == 200


def test_keys_routes_create_list_revoke(auth_client: AppClient) -> None:
    admin = key(auth_client, "admin", "admin")
    created = auth_client.post("/v1/keys", json={"name": "svc", "scopes": ["read", "sql"]}, headers=admin)
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("lh_") and created.json()["key"]["scopes"] == ["read", "sql"]
    assert auth_client.get("/v1/blobs/bkt", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = auth_client.get("/v1/keys", headers=admin).json()
    assert {k["name"] for k in listed["items"]} == {"admin", "svc"}
    assert all("secret" not in k and "key_hash" not in k for k in listed["items"])
    svc = next(k for k in listed["items"] if k["name"] == "svc")
    assert svc["last_used_at"] is not None
    assert auth_client.delete("/v1/keys/svc", headers=admin).json()["key"]["revoked_at"] is not None
    assert_problem(auth_client.delete("/v1/keys/svc", headers=admin), 404, "api_key_not_found")
    bad = auth_client.post("/v1/keys", json={"name": "x", "scopes": ["root"]}, headers=admin)
    assert_problem(bad, 400, "invalid_scope")


def test_keys_list_pages(client: AppClient) -> None:
    for i in range(5):
        client.post("/v1/keys", json={"name": f"k{i}", "scopes": ["read"]})
    names, cursor = [], None
    while True:
        page = client.get("/v1/keys", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        names += [k["name"] for k in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert names == [f"k{i}" for i in range(5)]
