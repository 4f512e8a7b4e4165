"""Backup and restore of a whole lakehouse while writes continue: what was acknowledged before the backup point is
restored (datasets with their snapshot history, memories with their history, keys, schemas, collections, blobs),
nothing started after it is; a corrupted, partial or truncated backup is refused before anything is written."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from lakehouse.backup import restore_backup, take_backup, verify_backup
from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import BackupInvalid, RestoreTargetNotEmpty
from lakehouse.memory.model import AddMemory, ChangeMemory, RetireMemory, Scope
from tests.conftest import make_settings

SCOPE = Scope(tenant="acme", user_id="u1")


def _rows(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table({"id": ids, "name": [f"n{i}" for i in ids], "amount": [i * 1.5 for i in ids]})


def _points(count: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [
        {"id": f"p{seed}-{i}", "vector": rng.normal(size=8).tolist(), "metadata": {"group": i % 3}}
        for i in range(count)
    ]


@dataclass
class Writes:
    """What the background writer did: each write with when it started and when it was acknowledged."""

    memories: list[tuple[float, float, str]] = field(default_factory=list)
    batches: list[tuple[float, float, int]] = field(default_factory=list)
    blobs: list[tuple[float, float, str]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def _writer(lh: Lakehouse, stop: threading.Event, writes: Writes) -> None:
    i = 0
    try:
        while not stop.is_set():
            i += 1
            t0 = time.time()
            added = lh.memory.add(AddMemory(scope=SCOPE, content=f"background fact {i}"))
            writes.memories.append((t0, time.time(), added.id))
            t0 = time.time()
            lh.ingest("main.stream", _rows(100_000 + i * 10, 10), create=True)
            writes.batches.append((t0, time.time(), 100_000 + i * 10))
            t0 = time.time()
            asyncio.run(lh.blobs.put_bytes("live", f"b{i}.bin", f"blob {i}".encode()))
            writes.blobs.append((t0, time.time(), f"b{i}.bin"))
            time.sleep(0.02)
    except BaseException as exc:  # surfaced by the test
        writes.errors.append(exc)


@dataclass
class Source:
    lh: Lakehouse
    settings: Settings
    memory_id: str
    snapshot_after_first: int
    big_blob: bytes


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Source]:
    settings = make_settings(tmp_path / "source")
    lh = Lakehouse(settings)
    lh.ingest("main.facts", _rows(0, 5000), create=True)  # past inlining: Parquet files
    snapshot = lh.lake.current_snapshot()
    lh.ingest("main.facts", _rows(5000, 3000))
    lh.keys.create("reader", ["read"], tenant="acme")
    lh.schemas.register("order", {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}})
    memory = lh.memory.add(AddMemory(scope=SCOPE, content="prefers email"))
    lh.memory.update(memory.id, ChangeMemory(scope=SCOPE, expected_version=1, content="prefers phone"))
    retired = lh.memory.add(AddMemory(scope=SCOPE, content="lives in Paris"))
    lh.memory.retire(retired.id, RetireMemory(scope=SCOPE, reason="moved"))
    lh.vectors.create("docs", 8)
    lh.vectors.upsert("docs", _points(300, 1))
    big = hashlib.sha256(b"x").digest() * 40_000  # 1.25 MB
    asyncio.run(lh.blobs.put_bytes("files", "dir/big.bin", big))
    yield Source(lh, settings, memory.id, snapshot, big)
    lh.close()


def test_a_backup_under_concurrent_writes_restores_everything_acknowledged_before_its_point(
    source: Source, tmp_path: Path
) -> None:
    lh = source.lh
    stop, writes = threading.Event(), Writes()
    writer = threading.Thread(target=_writer, args=(lh, stop, writes))
    writer.start()
    try:
        while len(writes.batches) < 5:  # the writer is well under way
            time.sleep(0.05)
        began = time.time()
        manifest = take_backup(lh.settings, str(tmp_path / "b.tar.zst"))
        ended = time.time()
        while len(writes.blobs) < 5 + len([w for w in writes.blobs if w[0] < ended]):  # and goes on after
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join(60)
    assert not writes.errors, writes.errors
    for kind in (writes.memories, writes.batches, writes.blobs):  # writes on both sides of the backup
        assert any(acked < began for _, acked, _ in kind) and any(started > ended for started, _, _ in kind)

    target = make_settings(tmp_path / "restored")
    report = restore_backup(str(tmp_path / "b.tar.zst"), target)
    assert report.lake_snapshot_id == manifest.lake_snapshot_id
    with Lakehouse(target) as restored:
        # memories: every one acknowledged before the backup began is there, none begun after it ended
        for started, acked, memory_id in writes.memories:
            if acked < began:
                assert restored.memory.get(memory_id, SCOPE).content.startswith("background fact")
            elif started > ended:
                with pytest.raises(Exception, match="no memory"):
                    restored.memory.get(memory_id, SCOPE)
        # the memory's whole history, as in the source
        assert restored.memory.history(source.memory_id, SCOPE) == lh.memory.history(source.memory_id, SCOPE)
        # dataset rows acknowledged before the point, none begun after
        present = {r[0] for r in restored.sql("SELECT DISTINCT id FROM main.stream").rows}
        for started, acked, first in writes.batches:
            if acked < began:
                assert first in present
            elif started > ended:
                assert first not in present
        # time travel to an old snapshot answers the same
        old = f"SELECT count(*), sum(amount) FROM main.facts AT (VERSION => {source.snapshot_after_first})"
        assert restored.sql(old).rows == lh.sql(old).rows == [[5000, sum(i * 1.5 for i in range(5000))]]
        assert restored.sql("SELECT count(*) FROM main.facts").rows == [[8000]]
        # keys, schemas, collections
        assert [k.name for k in restored.keys.list()] == ["reader"]
        assert restored.schemas.get("order").version == 1
        query = _points(1, 99)[0]["vector"]
        assert [(p.id, round(s, 6)) for p, s in restored.vectors.search("docs", vector=query, k=10)] == [
            (p.id, round(s, 6)) for p, s in lh.vectors.search("docs", vector=query, k=10)
        ]
        # blobs byte-identical; those begun after the point absent
        assert asyncio.run(restored.blobs.get_bytes("files", "dir/big.bin")) == source.big_blob
        restored_keys = {i.key for i in asyncio.run(restored.blobs.list("live", limit=10_000)).items}
        for started, acked, key in writes.blobs:
            if acked < began:
                assert key in restored_keys
            elif started > ended:
                assert key not in restored_keys


def test_every_kind_of_destination_verifies_and_restores(source: Source, tmp_path: Path) -> None:
    for name in ("dir-backup", "file.tar.zst"):
        destination = str(tmp_path / name)
        manifest = take_backup(source.settings, destination)
        assert verify_backup(destination, source.settings).files == manifest.files
        target = make_settings(tmp_path / f"restored-{name}")
        restore_backup(destination, target)
        with Lakehouse(target) as restored:
            assert restored.sql("SELECT count(*) FROM main.facts").rows == [[8000]]
    with pytest.raises(Exception, match="already exists"):
        take_backup(source.settings, str(tmp_path / "dir-backup"))


def _refused(backup: str, tmp_path: Path, match: str) -> None:
    target = make_settings(tmp_path / "never")
    with pytest.raises(BackupInvalid, match=match):
        restore_backup(backup, target)
    assert not (tmp_path / "never").exists()  # nothing half-restored


def test_a_corrupted_or_partial_backup_is_refused_and_nothing_is_written(source: Source, tmp_path: Path) -> None:
    backup = tmp_path / "b"
    take_backup(source.settings, str(backup))
    parquet = next((backup / "lake" / "data").rglob("*.parquet"))
    original = parquet.read_bytes()
    parquet.write_bytes(original[:100] + bytes([original[100] ^ 0xFF]) + original[101:])
    _refused(str(backup), tmp_path, "do not match its manifest")
    with pytest.raises(BackupInvalid) as raised:
        verify_backup(str(backup), source.settings)
    assert raised.value.errors[0].field == parquet.relative_to(backup).as_posix()
    assert "SHA-256" in raised.value.errors[0].reason
    parquet.write_bytes(original)
    verify_backup(str(backup), source.settings)
    # a file gone, a file added, the manifest gone
    blob = next((backup / "blobs").rglob("*.bin"))
    moved = blob.read_bytes()
    blob.unlink()
    _refused(str(backup), tmp_path, "do not match its manifest")
    blob.write_bytes(moved)
    (backup / "extra.txt").write_text("?")
    _refused(str(backup), tmp_path, "do not match its manifest")
    (backup / "extra.txt").unlink()
    (backup / "manifest.json").unlink()
    _refused(str(backup), tmp_path, "no manifest.json")


def test_a_truncated_archive_is_refused(source: Source, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar.zst"
    take_backup(source.settings, str(archive))
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    _refused(str(archive), tmp_path, "not a whole backup archive|do not match|no manifest")


def test_a_restore_goes_into_an_empty_lakehouse_only(source: Source, tmp_path: Path) -> None:
    backup = str(tmp_path / "b")
    take_backup(source.settings, backup)
    with pytest.raises(RestoreTargetNotEmpty):
        restore_backup(backup, source.settings)
    assert source.lh.sql("SELECT count(*) FROM main.facts").rows == [[8000]]  # untouched


def test_a_moved_data_dir_opens_where_it_is(source: Source, tmp_path: Path) -> None:
    source.lh.close()
    moved = tmp_path / "moved"
    shutil.move(source.settings.data_dir, moved)
    with Lakehouse(make_settings(moved)) as lh:
        assert lh.sql("SELECT count(*) FROM main.facts").rows == [[8000]]
    source.lh = Lakehouse(make_settings(moved))  # the fixture closes it


@pytest.mark.postgres
@pytest.mark.s3
def test_a_postgres_and_s3_lakehouse_backs_up_to_s3_and_restores_onto_one_machine(
    tmp_path: Path, pg_url: str, s3_settings: dict[str, Any]
) -> None:
    bucket = s3_settings["bucket"]
    settings = make_settings(
        tmp_path / "node",
        opsdb={"url": pg_url},
        storage={"backend": "s3", "s3": s3_settings},
        lake={
            "data_path": f"s3://{bucket}/lake",
            "catalog": "postgres",
            "catalog_dsn": pg_url.replace("postgresql+psycopg://", "postgresql://"),
        },
    )
    with Lakehouse(settings) as lh:
        lh.ingest("main.facts", _rows(0, 5000), create=True)
        first = lh.lake.current_snapshot()
        lh.ingest("main.facts", _rows(5000, 100))
        memory = lh.memory.add(AddMemory(scope=SCOPE, content="prefers email"))
        lh.memory.update(memory.id, ChangeMemory(scope=SCOPE, expected_version=1, content="prefers phone"))
        asyncio.run(lh.blobs.put_bytes("files", "a/b.bin", b"\x00\x01" * 1000))
        history = lh.memory.history(memory.id, SCOPE)
        destination = f"s3://{bucket}/backups/first"
        manifest = take_backup(settings, destination)
    assert manifest.lake_files >= 1 and manifest.blobs == 1
    assert verify_backup(destination, settings).files == manifest.files
    # SQLite and a local disk; the backup is reached through storage.s3's connection
    target = make_settings(tmp_path / "restored", storage={"backend": "local", "s3": s3_settings})
    restore_backup(destination, target)
    with Lakehouse(target) as restored:
        assert restored.sql("SELECT count(*) FROM main.facts").rows == [[5100]]
        old = f"SELECT count(*) FROM main.facts AT (VERSION => {first})"
        assert restored.sql(old).rows == [[5000]]
        restored.ingest("main.facts", _rows(9000, 1))  # the restored lake takes writes
        assert restored.sql("SELECT count(*) FROM main.facts").rows == [[5101]]
        assert restored.memory.history(memory.id, SCOPE) == history
        assert asyncio.run(restored.blobs.get_bytes("files", "a/b.bin")) == b"\x00\x01" * 1000
