"""Blobs in an S3-compatible bucket through obstore: ``<prefix>/<bucket>/<key>`` in the configured bucket."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import obstore
from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError
from obstore.store import S3Store

from lakehouse.blobs.base import (
    BlobInfo,
    BlobPage,
    BlobRead,
    BlobStore,
    HashingCounter,
    key_conflict,
    resolve_range,
)
from lakehouse.blobs.names import validate_bucket, validate_key
from lakehouse.config import S3Settings
from lakehouse.errors import BlobNotFound, PreconditionFailed
from lakehouse.paging import decode_cursor, encode_cursor

_NOT_FOUND = (FileNotFoundError, NotFoundError)


def make_s3_store(s3: S3Settings, prefix: str | None = None) -> S3Store:
    """An obstore S3 client from settings (path-style requests when an endpoint is given), its paths under
    ``prefix`` when one is given."""
    kwargs: dict[str, Any] = {"region": s3.region}
    if prefix:
        kwargs["prefix"] = prefix
    if s3.endpoint:
        kwargs["endpoint"] = s3.endpoint
        kwargs["virtual_hosted_style_request"] = False
    if s3.access_key_id is not None:
        kwargs["access_key_id"] = s3.access_key_id.get_secret_value()
    if s3.secret_access_key is not None:
        kwargs["secret_access_key"] = s3.secret_access_key.get_secret_value()
    return S3Store(s3.bucket, client_options={"allow_http": s3.allow_http}, **kwargs)


class S3BlobStore(BlobStore):
    """An S3-compatible bucket. Uploads stream as multipart uploads, so a failed upload leaves no object."""

    backend = "s3"

    def __init__(self, s3: S3Settings) -> None:
        self._store = make_s3_store(s3)
        self._s3_bucket = s3.bucket
        self._prefix = s3.prefix.strip("/")
        self._max_conditional = s3.max_conditional_put_bytes

    def _base(self, bucket: str) -> str:
        validate_bucket(bucket)
        return f"{self._prefix}/{bucket}" if self._prefix else bucket

    def _path(self, bucket: str, key: str) -> str:
        return f"{self._base(bucket)}/{validate_key(key)}"

    @staticmethod
    def _info(bucket: str, key: str, meta: Any, sha256: str | None = None) -> BlobInfo:
        return BlobInfo(
            bucket=bucket,
            key=key,
            size=int(meta["size"]),
            etag=meta.get("e_tag"),
            last_modified=meta.get("last_modified"),
            sha256=sha256,
        )

    async def put(
        self,
        bucket: str,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        if_none_match: bool = False,
        max_bytes: int | None = None,
    ) -> BlobInfo:
        path = self._path(bucket, key)
        await self._refuse_key_conflict(bucket, key)
        if if_none_match:
            # A conditional put is one S3 PUT (no multipart), so the body is held in memory: keep it bounded.
            max_bytes = min(max_bytes or self._max_conditional, self._max_conditional)
        counter = HashingCounter(chunks, max_bytes)
        try:
            await obstore.put_async(self._store, path, counter.__aiter__(), mode="create" if if_none_match else None)
        except (AlreadyExistsError, PreconditionError) as exc:
            raise PreconditionFailed(f"blob {bucket}/{key} exists and If-None-Match: * was given", field="key") from exc
        return await self._head(bucket, key, path, counter.sha256)

    async def _refuse_key_conflict(self, bucket: str, key: str) -> None:
        """The local backend's rule, kept here too: no blob at a prefix of ``key`` (``a`` for ``a/b``) and no blob
        under it (``a/b/c`` for ``a/b``). One HEAD per parent and one LIST of at most one object, all at once; two
        uploads racing each other can still both land, as they could not on a filesystem."""
        base = self._base(bucket)
        segments = key.split("/")
        parents = ["/".join(segments[:n]) for n in range(1, len(segments))]

        async def exists(parent: str) -> bool:
            try:
                await obstore.head_async(self._store, f"{base}/{parent}")
            except _NOT_FOUND:
                return False
            return True

        async def has_children() -> bool:
            async for batch in obstore.list(self._store, f"{base}/{key}", chunk_size=1):
                if batch:
                    return True
            return False

        found = await asyncio.gather(has_children(), *(exists(p) for p in parents))
        if any(found):
            raise key_conflict(bucket, key)

    async def _head(self, bucket: str, key: str, path: str, sha256: str | None = None) -> BlobInfo:
        try:
            meta = await obstore.head_async(self._store, path)
        except _NOT_FOUND as exc:
            raise BlobNotFound(f"no blob {bucket}/{key}", field="key") from exc
        return self._info(bucket, key, meta, sha256)

    async def head(self, bucket: str, key: str) -> BlobInfo:
        return await self._head(bucket, key, self._path(bucket, key))

    async def get(self, bucket: str, key: str, range_header: str | None = None) -> BlobRead:
        path = self._path(bucket, key)
        info = await self._head(bucket, key, path)
        start, end, partial = resolve_range(range_header, info.size)
        options: dict[str, Any] = {"if_match": info.etag} if info.etag else {}
        if info.size:
            options["range"] = (start, end + 1)
        try:
            result = await obstore.get_async(self._store, path, options=options)  # type: ignore[arg-type]
        except (*_NOT_FOUND, PreconditionError) as exc:
            raise BlobNotFound(f"no blob {bucket}/{key} (it changed or vanished while opening)") from exc

        async def stream() -> AsyncIterator[bytes]:
            if not info.size:
                return
            async for chunk in result.stream(min_chunk_size=1024 * 1024):
                yield bytes(chunk)

        return BlobRead(info=info, start=start, end=end, partial=partial, chunks=stream())

    async def delete(self, bucket: str, key: str) -> None:
        path = self._path(bucket, key)
        await self._head(bucket, key, path)
        await obstore.delete_async(self._store, path)

    async def list(self, bucket: str, prefix: str = "", cursor: str | None = None, limit: int = 100) -> BlobPage:
        base = self._base(bucket)
        after = decode_cursor(cursor)
        directory, _, _ = prefix.rpartition("/")
        list_prefix = f"{base}/{directory}" if directory else base
        offset = f"{base}/{after}" if after is not None else None
        want = f"{base}/{prefix}"
        items: list[BlobInfo] = []
        more = False
        stream = obstore.list(self._store, list_prefix, offset=offset, chunk_size=max(limit, 50))
        async for batch in stream:
            for meta in batch:
                path = meta["path"]
                if not path.startswith(want):
                    continue
                if len(items) == limit:
                    more = True
                    break
                items.append(self._info(bucket, path[len(base) + 1 :], meta))
            if more:
                break
        items.sort(key=lambda i: i.key)
        return BlobPage(items=items, next_cursor=encode_cursor(items[-1].key) if more else None)

    async def buckets(self) -> builtins.list[str]:
        listed = await obstore.list_with_delimiter_async(self._store, self._prefix or None)
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in listed["common_prefixes"])

    async def check(self) -> dict[str, Any]:
        stream = obstore.list(self._store, self._prefix or None, chunk_size=1)
        async for _batch in stream:
            break
        return {"backend": self.backend, "bucket": self._s3_bucket}
