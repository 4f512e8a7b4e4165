"""The blob store library, the same tests on the local directory and on S3 (moto server)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lakehouse.blobs import BlobStore, LocalBlobStore, S3BlobStore
from lakehouse.config import S3Settings
from lakehouse.errors import BlobNotFound, InvalidCursor, PayloadTooLarge, PreconditionFailed, RangeNotSatisfiable


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    s3: dict[str, Any] = request.getfixturevalue("s3_settings")
    return S3BlobStore(S3Settings.model_validate(s3))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def chunked(data: bytes, size: int = 7919) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_round_trip_returns_size_and_sha256(store: BlobStore) -> None:
    data = os.urandom(200_000)
    info = run(store.put("bkt", "dir/file.bin", chunked(data)))
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert run(store.get_bytes("bkt", "dir/file.bin")) == data
    assert run(store.head("bkt", "dir/file.bin")).size == len(data)


def test_empty_blob(store: BlobStore) -> None:
    info = run(store.put_bytes("bkt", "empty", b""))
    assert info.size == 0
    assert info.sha256 == hashlib.sha256(b"").hexdigest()
    assert run(store.get_bytes("bkt", "empty")) == b""


def test_overwrite_replaces(store: BlobStore) -> None:
    run(store.put_bytes("bkt", "k", b"first"))
    run(store.put_bytes("bkt", "k", b"second!"))
    assert run(store.get_bytes("bkt", "k")) == b"second!"


def test_if_none_match_refuses_to_overwrite(store: BlobStore) -> None:
    run(store.put_bytes("bkt", "k", b"first", if_none_match=True))
    with pytest.raises(PreconditionFailed):
        run(store.put_bytes("bkt", "k", b"second", if_none_match=True))
    assert run(store.get_bytes("bkt", "k")) == b"first"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9, True)),
        ("bytes=10-", (10, 99, True)),
        ("bytes=-5", (95, 99, True)),
        ("bytes=90-500", (90, 99, True)),
        ("bytes=0-0", (0, 0, True)),
        ("items=0-5", (0, 99, False)),
        ("bytes=0-1,5-6", (0, 99, False)),
    ],
)
def test_ranges(store: BlobStore, header: str, expected: tuple[int, int, bool]) -> None:
    data = bytes(range(100))
    run(store.put_bytes("bkt", "r", data))

    async def read() -> tuple[int, int, bool, bytes]:
        r = await store.get("bkt", "r", header)
        return r.start, r.end, r.partial, b"".join([c async for c in r.chunks])

    start, end, partial, body = run(read())
    assert (start, end, partial) == expected
    assert body == data[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=200-300", "bytes=-0", "bytes=5-2", "bytes=x-y"])
def test_unsatisfiable_ranges(store: BlobStore, header: str) -> None:
    run(store.put_bytes("bkt", "r", bytes(100)))
    with pytest.raises(RangeNotSatisfiable) as info:
        run(store.get("bkt", "r", header))
    assert info.value.headers["Content-Range"] == "bytes */100"


def test_missing_blob(store: BlobStore) -> None:
    for call in (store.head("bkt", "nope"), store.get("bkt", "nope"), store.delete("bkt", "nope")):
        with pytest.raises(BlobNotFound):
            run(call)


def test_delete(store: BlobStore) -> None:
    run(store.put_bytes("bkt", "a/b/c", b"x"))
    run(store.delete("bkt", "a/b/c"))
    with pytest.raises(BlobNotFound):
        run(store.head("bkt", "a/b/c"))
    assert run(store.list("bkt")).items == []


def test_list_pages_in_key_order_with_prefix(store: BlobStore) -> None:
    keys = ["a-c", "a/b", "a/c/d", "b", "ab", "a/a", "z/y/x"]
    for k in keys:
        run(store.put_bytes("bkt", k, k.encode()))
    seen: list[str] = []
    cursor = None
    while True:
        page = run(store.list("bkt", cursor=cursor, limit=2))
        seen += [i.key for i in page.items]
        assert len(page.items) <= 2
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(keys)
    assert [i.key for i in run(store.list("bkt", prefix="a/")).items] == ["a/a", "a/b", "a/c/d"]
    assert [i.key for i in run(store.list("bkt", prefix="a")).items] == ["a-c", "a/a", "a/b", "a/c/d", "ab"]
    assert [i.key for i in run(store.list("bkt", prefix="a/c/")).items] == ["a/c/d"]
    assert run(store.list("bkt", prefix="nothing/here")).items == []
    assert run(store.list("other-bucket")).items == []


def test_bad_cursor(store: BlobStore) -> None:
    with pytest.raises(InvalidCursor):
        run(store.list("bkt", cursor="not-a-cursor!"))


def test_failed_upload_leaves_nothing(store: BlobStore) -> None:
    run(store.put_bytes("bkt", "kept", b"old"))

    async def breaks() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        raise ConnectionResetError("client went away")

    for key in ("kept", "new"):
        with pytest.raises(ConnectionResetError):
            run(store.put("bkt", key, breaks()))
    assert run(store.get_bytes("bkt", "kept")) == b"old"
    with pytest.raises(BlobNotFound):
        run(store.head("bkt", "new"))
    if isinstance(store, LocalBlobStore):
        assert list((store.root / ".tmp").iterdir()) == []


def test_size_limit_stops_the_upload(store: BlobStore) -> None:
    with pytest.raises(PayloadTooLarge):
        run(store.put("bkt", "big", chunked(bytes(10_000), 1000), max_bytes=5000))
    with pytest.raises(BlobNotFound):
        run(store.head("bkt", "big"))


def test_check_reports_backend(store: BlobStore) -> None:
    assert run(store.check())["backend"] == store.backend


def test_local_write_is_atomic_under_concurrent_readers(tmp_path: Path) -> None:
    """A reader never sees a partial object while a writer replaces it."""
    store = LocalBlobStore(tmp_path / "blobs")
    old, new = b"a" * 300_000, b"b" * 300_000
    run(store.put_bytes("bkt", "k", old))

    async def scenario() -> list[bytes]:
        reads: list[bytes] = []

        async def writer() -> None:
            for _ in range(5):
                await store.put("bkt", "k", chunked(new, 10_000))
                await store.put("bkt", "k", chunked(old, 10_000))

        async def reader() -> None:
            for _ in range(40):
                reads.append(await store.get_bytes("bkt", "k"))
                await asyncio.sleep(0)

        await asyncio.gather(writer(), reader())
        return reads

    assert all(r in (old, new) for r in run(scenario()))


def test_a_key_is_a_blob_or_a_prefix_never_both_on_every_backend(store: BlobStore) -> None:
    """S3 would take both `a` and `a/b`; a directory cannot. Both backends refuse, so no deployment accepts what
    another refuses, and an overwrite of the same key is no conflict."""
    from lakehouse.errors import KeyConflict

    run(store.put_bytes("bkt", "a/b", b"x"))
    run(store.put_bytes("bkt", "a/b", b"x"))
    run(store.put_bytes("bkt", "a/bc", b"no conflict: a sibling"))
    run(store.put_bytes("bkt", "ab", b"no conflict either"))
    with pytest.raises(KeyConflict):
        run(store.put_bytes("bkt", "a", b"y"))
    with pytest.raises(KeyConflict):
        run(store.put_bytes("bkt", "a/b/c", b"z"))
    assert run(store.get_bytes("bkt", "a/b")) == b"x"


@pytest.mark.s3
def test_s3_conditional_put_is_bounded(s3_settings: dict[str, Any]) -> None:
    store = S3BlobStore(S3Settings.model_validate({**s3_settings, "max_conditional_put_bytes": 4096}))
    with pytest.raises(PayloadTooLarge):
        run(store.put("bkt", "big", chunked(bytes(10_000), 1000), if_none_match=True))
    with pytest.raises(BlobNotFound):
        run(store.head("bkt", "big"))
    assert run(store.put("bkt", "small", chunked(bytes(4096), 1000), if_none_match=True)).size == 4096
    assert run(store.put("bkt", "big", chunked(bytes(10_000), 1000))).size == 10_000  # unconditional: multipart
