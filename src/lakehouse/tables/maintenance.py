"""Lake maintenance over DuckLake's own functions, each returning a summary of what it changed.

- ``flush``: move rows inlined in the catalog into Parquet files.
- ``compact``: merge adjacent small files of each table.
- ``checkpoint``: flush, then compact.
- ``expire``: forget snapshots older than a duration (time travel before them ends; their files become removable).
- ``cleanup``: delete files no live snapshot needs, and orphaned files, older than a duration.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from lakehouse.errors import BadRequest
from lakehouse.tables.lake import Lake  # the lake is attached as 'lake'

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> dt.timedelta:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w``."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match:
        raise BadRequest(f"duration {text!r} must look like 30s, 15m, 12h, 7d or 2w", field="older_than")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _rows(lake: Lake, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with lake.cursor() as cur, lake.write(cur):
        return cur.execute(sql, params or []).fetchall()


def flush(lake: Lake) -> dict[str, Any]:
    rows = _rows(lake, "SELECT schema_name, table_name, rows_flushed FROM ducklake_flush_inlined_data('lake')")
    tables = [{"dataset": f"{s}.{t}", "rows_flushed": int(n)} for s, t, n in rows]
    return {"action": "flush", "tables": tables, "rows_flushed": sum(t["rows_flushed"] for t in tables)}


def compact(lake: Lake) -> dict[str, Any]:
    rows = _rows(
        lake,
        "SELECT schema_name, table_name, files_processed, files_created FROM ducklake_merge_adjacent_files('lake')",
    )
    tables = [{"dataset": f"{s}.{t}", "files_merged": int(p), "files_created": int(c)} for s, t, p, c in rows]
    return {"action": "compact", "tables": tables, "files_merged": sum(t["files_merged"] for t in tables)}


def checkpoint(lake: Lake) -> dict[str, Any]:
    return {"action": "checkpoint", "steps": [flush(lake), compact(lake)]}


def expire(lake: Lake, older_than: dt.timedelta) -> dict[str, Any]:
    cutoff = dt.datetime.now(dt.UTC) - older_than
    rows = _rows(lake, "SELECT snapshot_id FROM ducklake_expire_snapshots('lake', older_than => ?)", [cutoff])
    return {"action": "expire", "older_than": cutoff.isoformat(), "snapshots_expired": sorted(int(r[0]) for r in rows)}


def cleanup(lake: Lake, older_than: dt.timedelta) -> dict[str, Any]:
    cutoff = dt.datetime.now(dt.UTC) - older_than
    old = _rows(lake, "SELECT path FROM ducklake_cleanup_old_files('lake', older_than => ?)", [cutoff])
    orphans = _rows(lake, "SELECT path FROM ducklake_delete_orphaned_files('lake', older_than => ?)", [cutoff])
    return {
        "action": "cleanup",
        "older_than": cutoff.isoformat(),
        "files_deleted": len(old) + len(orphans),
        "paths": [str(r[0]) for r in old + orphans],
    }
