"""The agent memory's tables for read-only SQL: ``memory.memories``, ``memory.revisions`` and ``memory.events``.

/v1/sql's DuckDB instances never open the operational DB themselves (a second SQLite library writing locks on the
same WAL file is a corruption risk, and the API keys live there too). A statement that names the ``memory`` catalog
(DuckDB's own in-memory database of each query engine) gets a copy of the three tables, read through SQLAlchemy in
one consistent read and remade only when memory has changed: every memory write adds an event in the same
transaction and events are never deleted, so their count and newest id are the change token. A FORGET drops the
copies at once (``QueryEngine.drop_side_tables``), so forgotten content does not outlive its purge here either.

JSON text columns (``data``, ``meta``, ``tags``, the scope, an event's ``before``/``after``) are DuckDB ``JSON``;
times are ``TIMESTAMP WITH TIME ZONE``; an event's time (``at``, a keyword in SQL) is ``recorded_at``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from lakehouse.opsdb.engine import read_transaction
from lakehouse.opsdb.schema import UtcDateTime, memories, memory_events, memory_revisions

CATALOG = "memory"
# SQL name -> the operational table it copies
TABLES: dict[str, sa.Table] = {"memories": memories, "revisions": memory_revisions, "events": memory_events}
JSON_COLUMNS = frozenset({"scope_key", "data", "meta", "tags", "before", "after"})
# columns whose names SQL keeps for itself, renamed in the copy (an event's ``at`` is when it was recorded)
RENAMED = {("events", "at"): "recorded_at"}

Token = tuple[int, int]


def _arrow_type(column: sa.Column[Any]) -> Any:
    import pyarrow as pa

    if isinstance(column.type, UtcDateTime | sa.DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(column.type, sa.Integer):  # BigInteger too
        return pa.int64()
    return pa.string()


def _select_sql(name: str, source: str) -> str:
    """The DuckDB statement that makes ``memory.<name>`` from the registered Arrow table ``source``."""
    table = TABLES[name]
    columns = ", ".join(
        f'"{c.name}"{"::JSON" if c.name in JSON_COLUMNS else ""} AS "{RENAMED.get((name, c.name), c.name)}"'
        for c in table.columns
    )
    order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
    return f'CREATE OR REPLACE TABLE {CATALOG}.main."{name}" AS SELECT {columns} FROM "{source}" ORDER BY {order}'  # noqa: S608 (names are constants)


class MemoryTables:
    """Reads the memory tables of the operational DB for the SQL engines (a ``tables.side_tables.SideTables``)."""

    names = tuple(TABLES)

    def __init__(self, engine: sa.Engine) -> None:
        self.db = engine

    def create_sql(self, name: str, source: str) -> str:
        return _select_sql(name, source)

    def drop_sql(self, name: str) -> str:
        return f'DROP TABLE IF EXISTS {CATALOG}.main."{name}"'

    @staticmethod
    def _token(conn: sa.Connection) -> Token:
        count, newest = conn.execute(sa.select(sa.func.count(), sa.func.max(memory_events.c.id))).one()
        return int(count), int(newest or 0)

    def token(self) -> Token:
        """What changes whenever any memory, revision or event does."""
        with read_transaction(self.db) as conn:
            return self._token(conn)

    def load(self) -> tuple[Token, dict[str, Any]]:
        """The change token and the three tables as ``pyarrow.Table`` s, from one state of the database."""
        import pyarrow as pa

        out: dict[str, Any] = {}
        with read_transaction(self.db) as conn:
            token = self._token(conn)
            for name, table in TABLES.items():
                rows = conn.execute(sa.select(table)).all()
                out[name] = pa.table(
                    {
                        column.name: pa.array([row[i] for row in rows], type=_arrow_type(column))
                        for i, column in enumerate(table.columns)
                    }
                )
        return token, out
