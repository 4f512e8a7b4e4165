"""The blob store interface both backends implement, and what they share: ranges, cursors, hashing."""

from __future__ import annotations

import builtins
import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from lakehouse.errors import KeyConflict, PayloadTooLarge, RangeNotSatisfiable
from lakehouse.wire import Answer


class BlobInfo(Answer):
    """What is known of a stored blob. ``sha256`` is known after a put; backends do not all keep it."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    size: int = Field(description="Bytes.")
    etag: str | None
    last_modified: datetime | None
    sha256: str | None = Field(None, description="Hex SHA-256 of the bytes, when known (after a put).")


@dataclass
class BlobRead:
    """An open read: the blob, the inclusive byte span being sent, and the stream of its bytes."""

    info: BlobInfo
    start: int
    end: int
    partial: bool
    chunks: AsyncIterator[bytes]

    @property
    def length(self) -> int:
        return self.end - self.start + 1 if self.info.size else 0


@dataclass
class BlobPage:
    items: list[BlobInfo] = field(default_factory=list)
    next_cursor: str | None = None


def key_conflict(bucket: str, key: str) -> KeyConflict:
    """The one rule of keys on every backend: a key is a blob or a prefix of other blobs, never both (a local
    directory cannot be a file; S3 would allow it, and a deployment must not accept what another refuses)."""
    return KeyConflict(
        f"key {key!r} conflicts with an existing key in {bucket} (a key cannot be both a blob and a prefix of other "
        "blobs)",
        field="key",
    )


def resolve_range(header: str | None, size: int) -> tuple[int, int, bool]:
    """An HTTP ``Range`` header against a blob of ``size`` bytes: (start, end inclusive, partial).

    One ``bytes=`` range is supported (``a-b``, ``a-``, ``-n``); a header of another unit or several ranges is
    ignored and the whole blob is sent, as RFC 9110 allows. An unsatisfiable range raises 416.
    """
    whole = (0, max(size - 1, 0), False)
    if not header:
        return whole
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return whole
    first, sep, last = spec.strip().partition("-")
    unsatisfiable = RangeNotSatisfiable(
        f"range {header!r} is outside a blob of {size} bytes",
        field="Range",
        headers={"Content-Range": f"bytes */{size}"},
    )
    if not sep or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()):
        raise unsatisfiable
    if last and not last.isdigit():
        raise unsatisfiable
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise unsatisfiable
        return max(size - suffix, 0), size - 1, True
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise unsatisfiable
    return start, end, True


class HashingCounter:
    """Wraps an upload stream: hashes and counts bytes and stops past ``max_bytes``."""

    def __init__(self, chunks: AsyncIterable[bytes], max_bytes: int | None) -> None:
        self._chunks = chunks
        self._max = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            if not chunk:
                continue
            self.size += len(chunk)
            if self._max is not None and self.size > self._max:
                raise PayloadTooLarge(f"blob is larger than the limit of {self._max} bytes", field="body")
            self._hash.update(chunk)
            yield chunk


class BlobStore(ABC):
    """Blobs under bucket/key. Both backends give the same answers to the same calls."""

    backend: str

    @abstractmethod
    async def put(
        self,
        bucket: str,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        if_none_match: bool = False,
        max_bytes: int | None = None,
    ) -> BlobInfo:
        """Store a stream atomically: readers see the old blob or the whole new one, never a part."""

    @abstractmethod
    async def head(self, bucket: str, key: str) -> BlobInfo: ...

    @abstractmethod
    async def get(self, bucket: str, key: str, range_header: str | None = None) -> BlobRead: ...

    @abstractmethod
    async def delete(self, bucket: str, key: str) -> None: ...

    @abstractmethod
    async def list(self, bucket: str, prefix: str = "", cursor: str | None = None, limit: int = 100) -> BlobPage: ...

    @abstractmethod
    async def buckets(self) -> builtins.list[str]:
        """Every bucket that holds a blob, in name order (for a backup of the whole store)."""

    @abstractmethod
    async def check(self) -> dict[str, Any]:
        """Raise if the store is unreachable; otherwise return a little detail for /ready."""

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        read = await self.get(bucket, key)
        return b"".join([chunk async for chunk in read.chunks])

    async def put_bytes(self, bucket: str, key: str, data: bytes, *, if_none_match: bool = False) -> BlobInfo:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.put(bucket, key, one(), if_none_match=if_none_match)
