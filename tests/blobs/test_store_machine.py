"""A state machine over the blob store: any sequence of puts, deletes, gets and lists agrees with a dict."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from lakehouse.blobs import BlobStore, LocalBlobStore, S3BlobStore
from lakehouse.config import S3Settings
from lakehouse.errors import BlobNotFound, KeyConflict
from tests.soak import loops

keys = st.lists(st.sampled_from(["a", "b", "a-b", "ab", "é"]), min_size=1, max_size=3).map("/".join)
payloads = st.binary(max_size=64)


class BlobModel(RuleBasedStateMachine):
    store: BlobStore

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, bytes] = {}

    def conflicts(self, key: str) -> bool:
        """On every backend, a key cannot be both a blob and a prefix of others."""
        return any(k.startswith(key + "/") or key.startswith(k + "/") for k in self.model)

    @rule(key=keys, data=payloads)
    def put(self, key: str, data: bytes) -> None:
        if self.conflicts(key):
            with pytest.raises(KeyConflict):
                asyncio.run(self.store.put_bytes("bkt", key, data))
            return
        info = asyncio.run(self.store.put_bytes("bkt", key, data))
        assert info.size == len(data)
        self.model[key] = data

    @rule(key=keys)
    def delete(self, key: str) -> None:
        if key in self.model:
            asyncio.run(self.store.delete("bkt", key))
            del self.model[key]
        else:
            with pytest.raises(BlobNotFound):
                asyncio.run(self.store.delete("bkt", key))

    @rule(key=keys)
    def get(self, key: str) -> None:
        if key in self.model:
            assert asyncio.run(self.store.get_bytes("bkt", key)) == self.model[key]
        else:
            with pytest.raises(BlobNotFound):
                asyncio.run(self.store.head("bkt", key))

    @rule(prefix=st.sampled_from(["", "a", "a/", "a-", "b/a", "é"]), limit=st.integers(1, 4))
    def list_pages(self, prefix: str, limit: int) -> None:
        seen: list[str] = []
        cursor = None
        while True:
            page = asyncio.run(self.store.list("bkt", prefix=prefix, cursor=cursor, limit=limit))
            assert len(page.items) <= limit
            seen += [i.key for i in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(k for k in self.model if k.startswith(prefix))

    @invariant()
    def sizes_agree(self) -> None:
        for key, data in list(self.model.items())[:3]:
            assert asyncio.run(self.store.head("bkt", key)).size == len(data)


class LocalMachine(BlobModel):
    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory()
        self.store = LocalBlobStore(Path(self._tmp.name))

    def teardown(self) -> None:
        self._tmp.cleanup()


def test_local_store_behaves_like_a_dict() -> None:
    LocalMachine.TestCase.settings = settings(
        max_examples=loops(25, 100), stateful_step_count=loops(20, 40), deadline=None
    )
    LocalMachine.TestCase().runTest()


@pytest.mark.s3
def test_s3_store_behaves_like_a_dict(s3_settings: dict[str, Any]) -> None:
    import uuid

    class S3Machine(BlobModel):
        def __init__(self) -> None:
            super().__init__()
            self.store = S3BlobStore(S3Settings.model_validate({**s3_settings, "prefix": uuid.uuid4().hex}))

    S3Machine.TestCase.settings = settings(max_examples=loops(6, 30), stateful_step_count=loops(15, 30), deadline=None)
    S3Machine.TestCase().runTest()
