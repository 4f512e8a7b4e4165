"""The operational DB in a backup: every table's rows as JSON lines (``opsdb/<table>.ndjson``), read in one
transaction (SQLite's snapshot, PostgreSQL's ``REPEATABLE READ``) and written back in one, on either database."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lakehouse.opsdb.schema import metadata

OPSDB_DIR = "opsdb"
_BATCH = 1000


def _encoder(column: sa.Column[Any]) -> Callable[[Any], Any]:
    if isinstance(column.type, sa.LargeBinary):
        return lambda v: None if v is None else base64.b64encode(v).decode()
    if isinstance(column.type, sa.DateTime) or isinstance(getattr(column.type, "impl", None), sa.DateTime):
        return lambda v: None if v is None else v.isoformat()
    return lambda v: v


def _decoder(column: sa.Column[Any]) -> Callable[[Any], Any]:
    if isinstance(column.type, sa.LargeBinary):
        return lambda v: None if v is None else base64.b64decode(v)
    if isinstance(column.type, sa.DateTime) or isinstance(getattr(column.type, "impl", None), sa.DateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    return lambda v: v


def dump_tables(conn: sa.Connection, out: Path) -> dict[str, int]:
    """Every table of the schema, through ``conn`` (one read transaction), into ``out/opsdb``; rows per table."""
    directory = out / OPSDB_DIR
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in metadata.sorted_tables:
        encoders = [(c.name, _encoder(c)) for c in table.columns]
        order = list(table.primary_key.columns) or list(table.columns)
        count = 0
        with (directory / f"{table.name}.ndjson").open("w", encoding="utf-8") as file:
            result = conn.execution_options(stream_results=True).execute(sa.select(table).order_by(*order))
            for row in result.mappings():
                file.write(json.dumps({name: enc(row[name]) for name, enc in encoders}, ensure_ascii=False) + "\n")
                count += 1
        counts[table.name] = count
    return counts


def load_tables(engine: sa.Engine, source: Path) -> dict[str, int]:
    """The rows of a backup into the (empty, migrated) schema of ``engine``, in one transaction."""
    counts = {}
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            decoders = {c.name: _decoder(c) for c in table.columns}
            path = source / OPSDB_DIR / f"{table.name}.ndjson"
            count = 0
            batch: list[dict[str, Any]] = []
            with path.open(encoding="utf-8") as file:
                for line in file:
                    row = json.loads(line)
                    batch.append({k: decoders[k](v) for k, v in row.items()})
                    if len(batch) >= _BATCH:
                        conn.execute(table.insert(), batch)
                        count += len(batch)
                        batch = []
            if batch:
                conn.execute(table.insert(), batch)
                count += len(batch)
            counts[table.name] = count
    return counts


def is_empty(engine: sa.Engine) -> bool:
    """Whether no table of the schema holds a row (or none exists yet)."""
    inspector = sa.inspect(engine)
    existing = set(inspector.get_table_names())
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in existing and conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                return False
    return True
