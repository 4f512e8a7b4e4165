"""Where a backup lives: a directory, a ``.tar.zst`` file or an ``s3://bucket/prefix``. A backup is made in a
staging directory and moved into place whole (a rename, or the archive's last byte, or the manifest uploaded
last), so a backup that stopped half-way is never taken for a whole one."""

from __future__ import annotations

import contextlib
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import obstore
import zstandard

from lakehouse.backup.lake_files import s3_store_for
from lakehouse.backup.manifest import MANIFEST
from lakehouse.config import Settings
from lakehouse.errors import BackupInvalid, ConfigError

ARCHIVE = ".tar.zst"


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


def check_destination(location: str) -> None:
    """A backup never overwrites another: the destination must not exist (an empty directory is fine)."""
    if is_s3(location):
        return
    path = Path(location)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise ConfigError(f"{location} already exists; a backup goes to a new place", field="destination")


def staging_for(location: str) -> Path:
    """A directory to build the backup in: beside a local destination (the final move is a rename)."""
    if is_s3(location):
        return Path(tempfile.mkdtemp(prefix="lakehouse-backup-"))
    parent = Path(location).resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".lakehouse-backup-", dir=parent))


def publish(staging: Path, location: str, settings: Settings) -> None:
    """Move a finished backup from ``staging`` to ``location``."""
    if is_s3(location):
        store = s3_store_for(settings, location)
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        for path in [p for p in files if p.name != MANIFEST or p.parent != staging] + [staging / MANIFEST]:
            with path.open("rb") as file:
                obstore.put(store, path.relative_to(staging).as_posix(), file)
        shutil.rmtree(staging)
    elif location.endswith(ARCHIVE):
        partial = Path(location + ".partial")
        with (
            partial.open("wb") as raw,
            zstandard.ZstdCompressor(level=3, threads=-1).stream_writer(raw) as zst,
            tarfile.open(fileobj=zst, mode="w|") as tar,
        ):
            for path in sorted(staging.iterdir()):
                tar.add(path, arcname=path.name)
        partial.replace(location)
        shutil.rmtree(staging)
    else:
        path = Path(location)
        if path.exists():
            path.rmdir()  # empty, checked before
        staging.replace(path)


@contextlib.contextmanager
def opened(location: str, settings: Settings) -> Iterator[Path]:
    """A backup as a local directory for as long as it is read (a directory as it is; an archive or a prefix
    fetched into a temporary one)."""
    if not is_s3(location) and not location.endswith(ARCHIVE):
        path = Path(location)
        if not path.is_dir():
            raise BackupInvalid(f"no backup at {location}", field="source")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="lakehouse-restore-") as tmp:
        root = Path(tmp)
        if is_s3(location):
            store = s3_store_for(settings, location)
            found = False
            for batch in obstore.list(store):
                for meta in batch:
                    found = True
                    target = root / meta["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with target.open("wb") as file:
                        for chunk in obstore.get(store, meta["path"]).stream():
                            file.write(chunk)
            if not found:
                raise BackupInvalid(f"no backup under {location}", field="source")
        else:
            if not Path(location).is_file():
                raise BackupInvalid(f"no backup at {location}", field="source")
            try:
                with (
                    Path(location).open("rb") as raw,
                    zstandard.ZstdDecompressor().stream_reader(raw) as zst,
                    tarfile.open(fileobj=zst, mode="r|") as tar,
                ):
                    tar.extractall(root, filter="data")
            except (tarfile.TarError, zstandard.ZstdError, OSError, EOFError) as exc:
                raise BackupInvalid(f"{Path(location).name} is not a whole backup archive: {exc}") from exc
        yield root
