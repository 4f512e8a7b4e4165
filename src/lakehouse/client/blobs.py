"""Client methods for /v1/blobs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import quote

from lakehouse.blobs.base import BlobInfo
from lakehouse.blobs.names import validate_bucket, validate_key
from lakehouse.client._http import Transport, idempotency, raise_for_problem

ROUTES = {
    ("PUT", "/v1/blobs/{bucket}/{key}"),
    ("GET", "/v1/blobs/{bucket}/{key}"),
    ("HEAD", "/v1/blobs/{bucket}/{key}"),
    ("DELETE", "/v1/blobs/{bucket}/{key}"),
    ("GET", "/v1/blobs/{bucket}"),
}


def _path(bucket: str, key: str) -> str:
    # Checked here too: an HTTP client would silently resolve "a/../b" to "b" before the server saw it.
    validate_bucket(bucket)
    validate_key(key)
    return f"/v1/blobs/{quote(bucket, safe='')}/{quote(key, safe='/')}"


class Blobs:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes | IO[bytes] | Iterable[bytes],
        *,
        overwrite: bool = True,
        idempotency_key: str | None = None,
    ) -> BlobInfo:
        """Upload ``data`` (bytes, a binary file or an iterable of chunks, streamed). Returns size and sha256."""
        headers = {**idempotency(idempotency_key), **({} if overwrite else {"If-None-Match": "*"})}
        content: Any = data
        if hasattr(data, "read"):
            stream: Any = data

            def chunks() -> Iterator[bytes]:
                while block := stream.read(1024 * 1024):
                    yield block

            content = chunks()
        return self._t.call("PUT", _path(bucket, key), BlobInfo, content=content, headers=headers)

    def get(self, bucket: str, key: str, *, range: tuple[int, int] | None = None) -> bytes:
        """The blob's bytes (``range`` = inclusive (start, end))."""
        headers = {"Range": f"bytes={range[0]}-{range[1]}"} if range else {}
        return self._t.request("GET", _path(bucket, key), headers=headers).content

    def stream(self, bucket: str, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """Stream the blob's bytes without holding them all."""
        with self._t.http.stream("GET", _path(bucket, key)) as response:
            if response.status_code >= 400:
                response.read()
                raise_for_problem(response)
            yield from response.iter_bytes(chunk_size)

    def head(self, bucket: str, key: str) -> BlobInfo:
        """What the blob's headers say: size, etag, last modified (no sha256: HEAD does not compute it)."""
        response = self._t.request("HEAD", _path(bucket, key))
        modified = response.headers.get("last-modified")
        return BlobInfo(
            bucket=bucket,
            key=key,
            size=int(response.headers["content-length"]),
            etag=response.headers.get("etag"),
            last_modified=parsedate_to_datetime(modified) if modified else None,
        )

    def delete(self, bucket: str, key: str, *, idempotency_key: str | None = None) -> None:
        self._t.request("DELETE", _path(bucket, key), headers=idempotency(idempotency_key))

    def list(self, bucket: str, prefix: str = "", limit: int = 100) -> Iterator[BlobInfo]:
        """Every blob under ``prefix``, following the pages."""
        return self._t.pages_of(f"/v1/blobs/{quote(bucket, safe='')}", {"prefix": prefix, "limit": limit}, BlobInfo)
