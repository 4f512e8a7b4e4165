"""``verify_backup`` and ``restore_backup``: a backup is checked whole (manifest, every file's size and SHA-256,
the catalog readable, the schema revision this version runs) before anything is written, and restored only into an
empty lakehouse; a restore that fails while writing removes what it wrote."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import obstore
import sqlalchemy as sa
from pydantic import ValidationError

from lakehouse.backup.lake_files import CATALOG, DATA_DIR, check_catalog, data_store, set_data_path
from lakehouse.backup.locations import opened
from lakehouse.backup.manifest import FORMAT, MANIFEST, Manifest, sha256_file
from lakehouse.backup.opsdb_rows import OPSDB_DIR, is_empty, load_tables
from lakehouse.backup.take import BLOBS_DIR, VECTORS_DIR
from lakehouse.blobs import open_blob_store
from lakehouse.config import Settings
from lakehouse.errors import BackupInvalid, ConfigError, ErrorItem, RestoreTargetNotEmpty
from lakehouse.opsdb import create_engine, head_revision, upgrade
from lakehouse.opsdb.schema import metadata
from lakehouse.tables.lake import on_s3
from lakehouse.wire import Answer

_SHOWN = 20  # problems listed in one error, at most


class RestoreReport(Answer):
    """What a restore wrote."""

    opsdb_rows: dict[str, int]
    lake_snapshot_id: int | None
    lake_files: int
    blobs: int
    vector_indexes: bool


def _check(root: Path) -> Manifest:
    try:
        manifest = Manifest.model_validate_json((root / MANIFEST).read_bytes())
    except FileNotFoundError as exc:
        raise BackupInvalid("the backup has no manifest.json: not a backup, or one that did not finish") from exc
    except ValidationError as exc:
        raise BackupInvalid(f"the backup's manifest.json cannot be read: {exc.error_count()} problem(s)") from exc
    if manifest.format != FORMAT:
        raise BackupInvalid(f"the backup is in format {manifest.format}; this version reads format {FORMAT}")
    problems = []
    for relative, entry in manifest.files.items():
        path = root / relative
        if not path.is_file():
            problems.append(ErrorItem(kind="backup_invalid", field=relative, reason="missing"))
        elif path.stat().st_size != entry.size:
            problems.append(ErrorItem(kind="backup_invalid", field=relative, reason="size differs from the manifest"))
        elif sha256_file(path) != entry.sha256:
            problems.append(
                ErrorItem(kind="backup_invalid", field=relative, reason="SHA-256 differs from the manifest")
            )
    listed = set(manifest.files) | {MANIFEST}
    for path in root.rglob("*"):
        if path.is_file() and path.relative_to(root).as_posix() not in listed:
            reason = "not in the manifest"
            problems.append(ErrorItem(kind="backup_invalid", field=path.relative_to(root).as_posix(), reason=reason))
    if problems:
        named = ", ".join(f"{p.field} ({p.reason})" for p in problems[:3])
        raise BackupInvalid(
            f"the backup is incomplete or corrupted: {len(problems)} file(s) do not match its manifest: {named}",
            errors=problems[:_SHOWN],
        )
    if not (root / OPSDB_DIR).is_dir() or not (root / CATALOG).is_file():
        raise BackupInvalid("the backup lacks the operational DB or the lake catalog")
    check_catalog(root / CATALOG)
    return manifest


def verify_backup(location: str, settings: Settings) -> Manifest:
    """Check every file of a backup against its manifest; BackupInvalid names what is wrong."""
    with opened(location, settings) as root:
        return _check(root)


def _check_target(settings: Settings, engine: sa.Engine) -> None:
    if settings.lake.catalog != "sqlite":
        raise ConfigError(
            "a restore makes an embedded (SQLite) lake catalog in the data dir; set lake.catalog = 'sqlite' "
            "(restoring into a PostgreSQL catalog is not supported)",
            field="lake.catalog",
        )
    full = []
    if not is_empty(engine):
        full.append("the operational DB has rows")
    if settings.in_data_dir(settings.lake.catalog_path).exists():
        full.append("a lake catalog exists")
    for _ in obstore.list(data_store(settings), chunk_size=1):
        full.append("the lake's data path has files")
        break
    if asyncio.run(open_blob_store(settings).buckets()):
        full.append("the blob store has blobs")
    if full:
        raise RestoreTargetNotEmpty(f"the target lakehouse is not empty: {'; '.join(full)}")


async def _put_blobs(settings: Settings, root: Path) -> int:
    store = open_blob_store(settings)
    count = 0
    base = root / BLOBS_DIR
    if not base.is_dir():
        return 0
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        bucket, key = path.relative_to(base).as_posix().split("/", 1)

        async def chunks(path: Path = path) -> AsyncIterator[bytes]:
            with path.open("rb") as file:
                for block in iter(lambda: file.read(1024 * 1024), b""):
                    yield block

        await store.put(bucket, key, chunks())
        count += 1
    return count


def restore_backup(location: str, settings: Settings) -> RestoreReport:
    """Restore a backup into the empty lakehouse ``settings`` name (a new data dir, or new PostgreSQL/S3 stores)."""
    data_dir_existed = settings.data_dir.exists()
    with opened(location, settings) as root:
        manifest = _check(root)
        if manifest.opsdb_revision != head_revision():
            raise BackupInvalid(
                f"the backup's operational DB is at revision {manifest.opsdb_revision}; this version runs "
                f"{head_revision()}: restore with the version that made it, then upgrade"
            )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.opsdb_url())
        try:
            _check_target(settings, engine)
            try:
                upgrade(engine)
                rows = load_tables(engine, root)
                catalog = settings.in_data_dir(settings.lake.catalog_path)
                catalog.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / CATALOG, catalog)
                set_data_path(catalog, settings)
                store = data_store(settings)
                data = root / DATA_DIR
                files = sorted(p for p in data.rglob("*") if p.is_file()) if data.is_dir() else []
                for path in files:
                    with path.open("rb") as file:
                        obstore.put(store, path.relative_to(data).as_posix(), file)
                blobs = asyncio.run(_put_blobs(settings, root))
                with_indexes = (root / VECTORS_DIR).is_dir()
                if with_indexes:
                    shutil.copytree(root / VECTORS_DIR, settings.in_data_dir(settings.vectors.index_path))
            except BaseException:
                _undo(settings, engine, data_dir_existed)
                raise
        finally:
            engine.dispose()
    return RestoreReport(
        opsdb_rows=rows,
        lake_snapshot_id=manifest.lake_snapshot_id,
        lake_files=len(files),
        blobs=blobs,
        vector_indexes=with_indexes,
    )


def _undo(settings: Settings, engine: sa.Engine, data_dir_existed: bool) -> None:
    """Remove what a failed restore wrote: the tables it made, the files it put."""
    if engine.dialect.name != "sqlite":
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    if on_s3(settings):
        store = data_store(settings)
        for batch in obstore.list(store):
            obstore.delete(store, [meta["path"] for meta in batch])
    if not data_dir_existed:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
