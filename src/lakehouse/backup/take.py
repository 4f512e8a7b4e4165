"""``take_backup``: one consistent point of a running lakehouse, while writes continue.

The point is where the operational DB's read transaction begins; the lake's catalog is copied at once after it.
What was acknowledged before the point is in the backup (rows, memories with their history, keys, schemas,
collections, every lake snapshot and the files they need, blobs); what comes after is not: later opsdb writes are
outside the transaction, later lake commits outside the catalog copy, later blobs newer than the point. Saved ANN
indexes are copied before the point, so that they never reflect a snapshot the backup does not hold; a restore
brings them up to date from the lake.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

import obstore
import sqlalchemy as sa

from lakehouse.backup.lake_files import CATALOG, DATA_DIR, copy_catalog, data_store, latest_snapshot, needed_files
from lakehouse.backup.locations import check_destination, publish, staging_for
from lakehouse.backup.manifest import FORMAT, MANIFEST, Manifest, entries
from lakehouse.backup.opsdb_rows import dump_tables
from lakehouse.blobs import open_blob_store
from lakehouse.config import Settings
from lakehouse.opsdb import create_engine
from lakehouse.opsdb.engine import read_transaction
from lakehouse.version import __version__

BLOBS_DIR = "blobs"
VECTORS_DIR = "vectors"


async def _copy_blobs(settings: Settings, into: Path, point: datetime) -> int:
    """Every blob stored before the point, as ``blobs/<bucket>/<key>``."""
    store = open_blob_store(settings)
    count = 0
    for bucket in await store.buckets():
        cursor = None
        while True:
            page = await store.list(bucket, cursor=cursor, limit=1000)
            for info in page.items:
                if info.last_modified is not None and info.last_modified > point:
                    continue  # written after the point
                target = into / BLOBS_DIR / bucket / info.key
                target.parent.mkdir(parents=True, exist_ok=True)
                read = await store.get(bucket, info.key)
                with target.open("wb") as file:
                    async for chunk in read.chunks:
                        file.write(chunk)
                count += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    return count


def _copy_lake_files(settings: Settings, catalog: Path, into: Path) -> int:
    store = data_store(settings)
    count = 0
    for relative in needed_files(catalog):
        target = into / DATA_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as file:
            for chunk in obstore.get(store, relative).stream():
                file.write(chunk)
        count += 1
    return count


def take_backup(settings: Settings, destination: str, *, vector_indexes: bool = True) -> Manifest:
    """Back up the lakehouse ``settings`` name to ``destination`` (a directory, ``.tar.zst`` or ``s3://`` prefix)."""
    check_destination(destination)
    staging = staging_for(destination)
    try:
        index_dir = settings.in_data_dir(settings.vectors.index_path)
        with_indexes = vector_indexes and index_dir.is_dir() and any(index_dir.iterdir())
        if with_indexes:
            shutil.copytree(index_dir, staging / VECTORS_DIR)
        engine = create_engine(settings.opsdb_url())
        try:
            with read_transaction(engine) as conn:
                point = datetime.now(UTC)
                revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
                copy_catalog(settings, staging / CATALOG)
                rows = dump_tables(conn, staging)
        finally:
            engine.dispose()
        lake_files = _copy_lake_files(settings, staging / CATALOG, staging)
        blobs = asyncio.run(_copy_blobs(settings, staging, point))
        manifest = Manifest(
            format=FORMAT,
            lakehouse_version=__version__,
            created_at=point,
            opsdb_revision=revision,
            opsdb_rows=rows,
            lake_snapshot_id=latest_snapshot(staging / CATALOG),
            lake_files=lake_files,
            blobs=blobs,
            vector_indexes=bool(with_indexes),
            files=entries(staging),
        )
        (staging / MANIFEST).write_text(manifest.model_dump_json(indent=2))
        publish(staging, destination, settings)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest
