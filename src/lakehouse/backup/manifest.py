"""What a backup holds (``manifest.json``): the versions it was made at, the point it is consistent at, and every
file with its size and SHA-256. A backup is valid only when every listed file is there with that size and hash."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from pydantic import Field

from lakehouse.wire import Answer

FORMAT = 1
MANIFEST = "manifest.json"


class FileEntry(Answer):
    size: int
    sha256: str


class Manifest(Answer):
    """The table of contents of one backup."""

    format: int = Field(description="The layout's version: a restore reads only the formats it knows.")
    lakehouse_version: str
    created_at: datetime = Field(description="The backup point: what was acknowledged before it is in the backup.")
    opsdb_revision: str | None = Field(description="The operational DB's migration revision.")
    opsdb_rows: dict[str, int] = Field(description="Rows per operational DB table.")
    lake_snapshot_id: int | None = Field(description="The lake's latest snapshot at the backup point.")
    lake_files: int = Field(description="Data and delete files the lake's snapshots need.")
    blobs: int = Field(description="Blobs, across every bucket.")
    vector_indexes: bool = Field(description="Whether saved ANN indexes are in it (optional: they are rebuilt).")
    files: dict[str, FileEntry] = Field(description="Every file of the backup but this one, by relative path.")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def entries(root: Path) -> dict[str, FileEntry]:
    """Size and hash of every file under ``root`` but the manifest, by POSIX relative path."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative != MANIFEST:
            found[relative] = FileEntry(size=path.stat().st_size, sha256=sha256_file(path))
    return found
