"""Side tables: tables that live outside the lake (the agent memory's, in the operational DB) offered to the SQL
engines as a catalog of each engine's own in-memory DuckDB database.

The query engine owns this interface and knows nothing of who provides it: a provider (``memory.audit``) says
what changes when its tables do (``token``), loads them as Arrow tables from one consistent read (``load``) and
says how each becomes a DuckDB table (``create_sql``). ``SideCopy`` keeps one engine's copy current.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any, Protocol


class SideTables(Protocol):
    """What the query engine needs of a provider of side tables."""

    @property
    def names(self) -> tuple[str, ...]:
        """The tables' names in the catalog."""
        ...

    def token(self) -> Hashable:
        """Something that changes whenever any of the tables does."""
        ...

    def load(self) -> tuple[Hashable, Mapping[str, Any]]:
        """The change token and each table as a ``pyarrow.Table``, from one state of the source."""
        ...

    def create_sql(self, name: str, source: str) -> str:
        """The DuckDB statement that makes table ``name`` from the registered Arrow table ``source``."""
        ...

    def drop_sql(self, name: str) -> str:
        """The DuckDB statement that drops table ``name``'s copy."""
        ...


class SideCopy:
    """One DuckDB instance's copy of a provider's side tables, remade when the provider says they changed."""

    def __init__(self, db: Any) -> None:
        self.db = db  # a duckdb.DuckDBPyConnection
        self.token: Hashable | None = None  # the change token of the copy held (None: no copy); guarded by the lock
        self.lock = threading.Lock()

    def refresh(self, tables: SideTables) -> None:
        """Make the copies current, if the tables have changed since they were made. Queries whose transactions
        began before keep reading the copy they saw."""
        if self.token is not None and self.token == tables.token():
            return
        with self.lock:
            token, loaded = tables.load()
            if token == self.token:
                return
            cur = self.db.cursor()
            try:
                cur.execute("BEGIN")
                for name, table in loaded.items():
                    source = f"_side_{name}"
                    cur.register(source, table)
                    cur.execute(tables.create_sql(name, source))
                    cur.unregister(source)
                cur.execute("COMMIT")
            finally:
                cur.close()
            self.token = token

    def drop(self, tables: SideTables) -> None:
        """Drop the copies (after a FORGET): the next query that names the tables reads them anew."""
        with self.lock:
            cur = self.db.cursor()
            try:
                for name in tables.names:
                    cur.execute(tables.drop_sql(name))
            finally:
                cur.close()
            self.token = None
