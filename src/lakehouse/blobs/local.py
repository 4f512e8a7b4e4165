"""Blobs in a directory: ``<root>/<bucket>/<key>``, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import builtins
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread

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
from lakehouse.errors import BlobNotFound, InvalidKey, PreconditionFailed
from lakehouse.paging import decode_cursor, encode_cursor

_READ_CHUNK = 1024 * 1024
_WRITE_BATCH = 1024 * 1024
_TMP = ".tmp"
_STALE_TMP_SECONDS = 24 * 3600


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore(BlobStore):
    """A directory on local disk. Temp files live in ``<root>/.tmp``, which no bucket name can reach."""

    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / _TMP
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._sweep_stale_temp_files()

    def _sweep_stale_temp_files(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        for entry in self._tmp.iterdir():
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()

    def _path(self, bucket: str, key: str) -> Path:
        bucket_dir = self.root / validate_bucket(bucket)
        path = bucket_dir.joinpath(*validate_key(key).split("/"))
        # Belt and braces: the key rules already make this impossible, symlinks included.
        if not path.resolve().is_relative_to(bucket_dir.resolve()):
            raise InvalidKey(f"key {key!r} leaves its bucket", field="key")
        return path

    @staticmethod
    def _info(bucket: str, key: str, path: Path, sha256: str | None = None) -> BlobInfo:
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise BlobNotFound(f"no blob {bucket}/{key}", field="key") from exc
        if not path.is_file():
            raise BlobNotFound(f"no blob {bucket}/{key}", field="key")
        return BlobInfo(
            bucket=bucket,
            key=key,
            size=st.st_size,
            etag=f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
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
        final = self._path(bucket, key)
        tmp = self._tmp / f"{uuid.uuid4().hex}.part"
        counter = HashingCounter(chunks, max_bytes)
        handle: BinaryIO = await anyio.to_thread.run_sync(tmp.open, "xb")
        try:
            try:
                pending = bytearray()
                async for chunk in counter:
                    if not pending and len(chunk) >= _WRITE_BATCH:
                        await anyio.to_thread.run_sync(handle.write, chunk)
                        continue
                    pending += chunk
                    if len(pending) >= _WRITE_BATCH:  # one thread hop per MiB, not per network chunk
                        await anyio.to_thread.run_sync(handle.write, pending)
                        pending.clear()
                if pending:
                    await anyio.to_thread.run_sync(handle.write, pending)
                await anyio.to_thread.run_sync(handle.flush)
                await anyio.to_thread.run_sync(os.fsync, handle.fileno())
            finally:
                handle.close()
            await anyio.to_thread.run_sync(self._publish, tmp, final, bucket, key, if_none_match)
        finally:
            tmp.unlink(missing_ok=True)
        return self._info(bucket, key, final, sha256=counter.sha256)

    @staticmethod
    def _publish(tmp: Path, final: Path, bucket: str, key: str, if_none_match: bool) -> None:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.is_dir():
                raise IsADirectoryError(final)
            if if_none_match:
                os.link(tmp, final)  # fails if the name exists: atomic create-if-absent
            else:
                tmp.replace(final)
        except FileExistsError as exc:
            if final.is_file():
                raise PreconditionFailed(
                    f"blob {bucket}/{key} exists and If-None-Match: * was given", field="key"
                ) from exc
            raise key_conflict(bucket, key) from exc
        except (NotADirectoryError, IsADirectoryError) as exc:
            raise key_conflict(bucket, key) from exc
        _fsync_dir(final.parent)

    async def head(self, bucket: str, key: str) -> BlobInfo:
        return self._info(bucket, key, self._path(bucket, key))

    async def get(self, bucket: str, key: str, range_header: str | None = None) -> BlobRead:
        path = self._path(bucket, key)
        try:
            handle: BinaryIO = await anyio.to_thread.run_sync(path.open, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise BlobNotFound(f"no blob {bucket}/{key}", field="key") from exc
        try:
            size = os.fstat(handle.fileno()).st_size
            info = self._info(bucket, key, path)
            start, end, partial = resolve_range(range_header, size)
        except BaseException:
            handle.close()
            raise

        async def stream() -> AsyncIterator[bytes]:
            try:
                handle.seek(start)
                remaining = end - start + 1 if size else 0
                while remaining > 0:
                    chunk = await anyio.to_thread.run_sync(handle.read, min(_READ_CHUNK, remaining))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                    yield chunk
            finally:
                handle.close()

        return BlobRead(info=info, start=start, end=end, partial=partial, chunks=stream())

    async def delete(self, bucket: str, key: str) -> None:
        path = self._path(bucket, key)
        bucket_dir = self.root / bucket
        try:
            if not path.is_file():
                raise FileNotFoundError(path)
            path.unlink()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise BlobNotFound(f"no blob {bucket}/{key}", field="key") from exc
        parent = path.parent
        while parent != bucket_dir:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    async def buckets(self) -> builtins.list[str]:
        def names() -> builtins.list[str]:
            if not self.root.is_dir():
                return []
            return sorted(e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith("."))

        return await anyio.to_thread.run_sync(names)

    async def list(self, bucket: str, prefix: str = "", cursor: str | None = None, limit: int = 100) -> BlobPage:
        bucket_dir = self.root / validate_bucket(bucket)
        after = decode_cursor(cursor)
        keys = await anyio.to_thread.run_sync(self._page_keys, bucket_dir, prefix, after, limit + 1)
        page = keys[:limit]
        items = [self._info(bucket, k, bucket_dir.joinpath(*k.split("/"))) for k in page]
        return BlobPage(items=items, next_cursor=encode_cursor(page[-1]) if len(keys) > limit else None)

    @staticmethod
    def _page_keys(bucket_dir: Path, prefix: str, after: str | None, count: int) -> builtins.list[str]:
        """Up to ``count`` keys starting with ``prefix`` and greater than ``after``, in key order.

        A directory ``d`` holds exactly the keys ``d/...``, so visiting each directory's entries sorted with
        directories named ``d/`` gives global key order; directories wholly before the cursor or outside the
        prefix are never opened, so a page costs about its own size, not the bucket's.
        """
        found: builtins.list[str] = []

        def wanted_dir(dir_key: str) -> bool:  # dir_key ends with "/"
            if not (dir_key.startswith(prefix) or prefix.startswith(dir_key)):
                return False
            return after is None or dir_key > after or after.startswith(dir_key)

        def walk(directory: Path, base: str) -> bool:
            try:
                entries = builtins.list(os.scandir(directory))
            except (FileNotFoundError, NotADirectoryError):
                return True
            named = sorted(
                ((base + e.name + "/", e) if e.is_dir(follow_symlinks=False) else (base + e.name, e) for e in entries),
                key=lambda pair: pair[0],
            )
            for key, entry in named:
                if key.endswith("/"):
                    if wanted_dir(key) and not walk(Path(entry.path), key):
                        return False
                elif key.startswith(prefix) and (after is None or key > after) and entry.is_file(follow_symlinks=False):
                    found.append(key)
                    if len(found) >= count:
                        return False
            return True

        if bucket_dir.is_dir():
            walk(bucket_dir, "")
        return found

    async def check(self) -> dict[str, Any]:
        probe = self._tmp / f"ready-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
        return {"backend": self.backend, "writable": True}
