"""The blob routes over the S3 backend (moto server), end to end through the app."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

pytestmark = pytest.mark.s3


def test_blob_routes_on_s3(make_client: Callable[..., AppClient], s3_settings: dict[str, Any]) -> None:
    client = make_client(storage={"backend": "s3", "s3": s3_settings})
    data = os.urandom(6 * 1024 * 1024 + 3)  # past one multipart part
    put = client.put("/v1/blobs/docs/big/file.bin", content=data)
    assert put.status_code == 201 and put.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert client.get("/v1/blobs/docs/big/file.bin").content == data
    part = client.get("/v1/blobs/docs/big/file.bin", headers={"Range": "bytes=-10"})
    assert part.status_code == 206 and part.content == data[-10:]
    assert part.headers["content-range"] == f"bytes {len(data) - 10}-{len(data) - 1}/{len(data)}"
    assert int(client.head("/v1/blobs/docs/big/file.bin").headers["content-length"]) == len(data)
    assert_problem(client.put("/v1/blobs/docs/big/file.bin", content=b"x", headers={"If-None-Match": "*"}), 412)
    assert client.get("/v1/blobs/docs", params={"prefix": "big/"}).json()["items"][0]["size"] == len(data)
    assert client.get("/ready").json()["checks"]["blobs"]["backend"] == "s3"
    assert client.delete("/v1/blobs/docs/big/file.bin").status_code == 204
    assert_problem(client.get("/v1/blobs/docs/big/file.bin"), 404, "blob_not_found")
