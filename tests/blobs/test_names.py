"""Blob key and bucket rules: every rejected shape, and no accepted key can leave its bucket."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.blobs import LocalBlobStore, validate_bucket, validate_key
from lakehouse.errors import InvalidBucket, InvalidKey

BAD_KEYS = {
    "empty": "",
    "absolute": "/etc/passwd",
    "dotdot": "../outside",
    "dotdot inside": "a/../../outside",
    "dotdot last": "a/..",
    "dot segment": "a/./b",
    "empty segment": "a//b",
    "trailing slash": "a/",
    "backslash": "a\\..\\b",
    "nul": "a\x00b",
    "newline": "a\nb",
    "escape": "a\x1bb",
    "del": "a\x7fb",
    "too long": "k" * 1025,
    "too long in bytes": "é" * 513,
    "segment too long": "a/" + "k" * 256,
    "segment too long in bytes": "é" * 128,
    "lone surrogate": "a\ud800b",
}


@pytest.mark.parametrize("key", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey) as info:
        validate_key(key)
    assert info.value.status == 400
    assert info.value.errors[0].kind == "invalid_key"
    assert info.value.errors[0].field == "key"


@pytest.mark.parametrize(
    "key",
    ["a", "a/b/c.txt", "/".join(["k" * 255] * 4), "é" * 127, "dir.with.dots/..hidden", "ünï/cödé", "a b/c%20d"],
)
def test_good_keys_pass(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize("bucket", ["ab", "A-bucket", "-bucket", "bucket-", "a..b", "x" * 64, ".tmp", "has_underscore"])
def test_bad_buckets_are_refused(bucket: str) -> None:
    with pytest.raises(InvalidBucket):
        validate_bucket(bucket)


segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None)
@given(st.lists(segment, min_size=1, max_size=6).map("/".join))
def test_no_accepted_key_leaves_its_bucket(tmp_path_factory: pytest.TempPathFactory, key: str) -> None:
    root = tmp_path_factory.mktemp("root")
    store = LocalBlobStore(root)
    try:
        path = store._path("bucket", key)
    except InvalidKey:
        return
    assert path.resolve().is_relative_to((root / "bucket").resolve())
    data = asyncio.run(_round_trip(store, key))
    assert data == b"payload"
    outside = [p for p in root.rglob("*") if p.is_file() and not p.resolve().is_relative_to(root / "bucket")]
    assert outside == []


async def _round_trip(store: LocalBlobStore, key: str) -> bytes:
    await store.put_bytes("bucket", key, b"payload")
    return await store.get_bytes("bucket", key)


def test_symlink_out_of_the_bucket_is_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "root")
    (tmp_path / "root" / "bucket").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "root" / "bucket" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidKey):
        asyncio.run(store.put_bytes("bucket", "link/file", b"x"))
    assert list((tmp_path / "elsewhere").iterdir()) == []
