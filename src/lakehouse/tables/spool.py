"""The spool: files that hold ingest bodies, and what is staged from them, while an ingest runs.

Each file is named ``<pid>-<random><suffix>``, after the process that made it. A request removes its own files when
it ends; a process that dies mid-request (killed, out of memory) leaves them, so every Lakehouse removes, when it
opens, the files of processes that are gone (``sweep``), and ``lakehouse doctor`` reports them (``leftovers``).
Files of live processes (another server on the same data dir) are never touched.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from lakehouse.config import Settings

__all__ = ["leftovers", "new_file", "spool_dir", "sweep"]


def spool_dir(settings: Settings) -> Path:
    """The spool directory (lake.spool_path, under the data dir unless absolute), made if missing."""
    path = settings.in_data_dir(settings.lake.spool_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_file(directory: Path, suffix: str) -> Path:
    """A fresh name in ``directory`` owned by this process (the file is not made)."""
    return directory / f"{os.getpid()}-{uuid.uuid4().hex}{suffix}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def leftovers(settings: Settings) -> list[Path]:
    """Spool files whose process is gone (or that follow no naming this version knows)."""
    directory = settings.in_data_dir(settings.lake.spool_path)
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        owner, dash, _ = entry.name.partition("-")
        if not (dash and owner.isdigit() and _alive(int(owner))) and entry.is_file():
            found.append(entry)
    return sorted(found)


def sweep(settings: Settings) -> int:
    """Remove the leftovers; how many were removed."""
    removed = 0
    for path in leftovers(settings):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed
