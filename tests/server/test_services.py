"""The routing table: each daemon owns the prefixes it declares, and a gateway can forward by them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from lakehouse.app import create_app
from lakehouse.config import Settings
from lakehouse.errors import ConfigError
from lakehouse.services import SERVICES, Service
from tests.asgi import AppClient


def _owner(path: str) -> Service | None:
    """The service a path belongs to: one whose patterns match it, else one whose prefixes hold it."""
    for service in SERVICES.values():
        if any(re.fullmatch(p, path) for p in service.patterns):
            return service
    return next((s for s in SERVICES.values() if s.owns(path)), None)


def test_every_route_lies_under_its_service_prefixes() -> None:
    for service in SERVICES.values():
        for route in service.router.routes:
            assert isinstance(route, APIRoute)
            assert _owner(route.path) is service, f"{route.path} is not under {service.prefixes}"


def test_prefixes_do_not_overlap() -> None:
    prefixes = [p for s in SERVICES.values() for p in s.prefixes]
    assert len(prefixes) == len(set(prefixes))
    assert _owner("/v1/blobsmith") is None and _owner("/health") is None


def test_only_mounts_the_named_services(make_client: Callable[..., AppClient], tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path), services=["storaged"])
    paths = set(app.openapi()["paths"])
    assert any(p.startswith("/v1/blobs") for p in paths) and not any(p.startswith("/v1/keys") for p in paths)
    assert "/health" in paths and "/ready" in paths
    with pytest.raises(ConfigError, match="unknown service nope"):
        create_app(Settings(data_dir=tmp_path), services=["nope"])


@pytest.mark.postgres
def test_server_on_a_postgresql_opsdb(make_client: Callable[..., AppClient], pg_url: str) -> None:
    client = make_client(opsdb={"url": pg_url}, auth={"enabled": True})
    assert client.get("/ready").json()["checks"]["opsdb"]["dialect"] == "postgresql"
    assert client.lakehouse is not None
    admin = {"Authorization": "Bearer " + client.lakehouse.keys.create("admin", "admin").secret}
    made = client.post("/v1/keys", json={"name": "svc", "scopes": ["write"]}, headers=admin).json()
    writer = {"Authorization": "Bearer " + made["secret"]}
    assert client.put("/v1/blobs/bkt/k", content=b"x", headers=writer).status_code == 201
    assert client.delete("/v1/keys/svc", headers=admin).status_code == 200
    assert client.put("/v1/blobs/bkt/k", content=b"y", headers=writer).status_code == 401
