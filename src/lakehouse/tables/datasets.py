"""Datasets: the lake's tables, by namespace and name, with their columns, size and snapshots.

A dataset created without columns is *awaiting its first ingest*: a row in the lake's own bookkeeping table
``_lakehouse.pending_datasets`` (name, description, time) until an ingest creates the table with the inferred
schema and removes the row, in the same lake commit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb

from lakehouse.errors import DatasetExists, DatasetNotFound, ErrorItem, InvalidColumnType, InvalidName
from lakehouse.tables.lake import CATALOG, Lake, sql_literal, transaction
from lakehouse.tables.model import AWAITING_FIRST_INGEST, READY, Column, Dataset, Snapshot
from lakehouse.tables.names import (
    OBSERVE_NAMESPACE,
    REPLAY_NAMESPACE,
    SYSTEM_NAMESPACE,
    VECTORS_NAMESPACE,
    normalize_type,
    quote,
    validate_identifier,
    validate_namespace,
)

DEFAULT_NAMESPACE = "main"
_PENDING_TABLE = "pending_datasets"
_PENDING = f"{CATALOG}.{quote(SYSTEM_NAMESPACE)}.{quote(_PENDING_TABLE)}"


def _qualified(namespace: str, name: str) -> str:
    return f"{CATALOG}.{quote(namespace)}.{quote(name)}"


def split_name(name: str, namespace: str | None = None) -> tuple[str, str]:
    """``customers`` or ``sales.customers`` (or an explicit namespace) -> validated (namespace, name)."""
    if "." in name:
        if namespace is not None:
            raise InvalidName("give the namespace once: in the name or as namespace, not both", field="name")
        namespace, _, name = name.partition(".")
    return validate_namespace(namespace or DEFAULT_NAMESPACE), validate_identifier(name)


def _columns_ddl(columns: Sequence[Column | Mapping[str, Any]]) -> tuple[str, list[Column]]:
    parsed: list[Column] = []
    seen: set[str] = set()
    for index, col in enumerate(columns):
        raw: Mapping[str, Any] = col.model_dump() if isinstance(col, Column) else col
        name = validate_identifier(str(raw.get("name", "")), f"columns[{index}].name")
        if name in seen:
            raise InvalidName(f"column {name!r} appears twice", field=f"columns[{index}].name")
        seen.add(name)
        parsed.append(
            Column(
                name=name,
                type=normalize_type(str(raw.get("type", "")), f"columns[{index}].type"),
                nullable=bool(raw.get("nullable", True)),
            )
        )
    if not parsed:
        raise InvalidColumnType(
            "a dataset needs at least one column",
            errors=[ErrorItem(kind="min_items", field="columns", reason="a dataset needs at least one column")],
        )
    ddl = ", ".join(f"{quote(c.name)} {c.type}{'' if c.nullable else ' NOT NULL'}" for c in parsed)
    return ddl, parsed


class Datasets:
    """Create, describe, list, rename and drop the lake's tables."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def _exists(self, cur: duckdb.DuckDBPyConnection, namespace: str, name: str) -> bool:
        row = cur.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? AND table_name = ?",
            [CATALOG, namespace, name],
        ).fetchone()
        return bool(row and row[0])

    def pending(self, cur: duckdb.DuckDBPyConnection, namespace: str, name: str) -> tuple[str | None, datetime] | None:
        """(description, created_at) of a dataset awaiting its first ingest, or None."""
        if not self._exists(cur, SYSTEM_NAMESPACE, _PENDING_TABLE):
            return None
        row = cur.execute(
            f"SELECT description, created_at FROM {_PENDING} WHERE namespace = ? AND name = ? "  # noqa: S608 (constant)
            "ORDER BY created_at LIMIT 1",
            [namespace, name],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def _taken(self, cur: duckdb.DuckDBPyConnection, namespace: str, name: str) -> bool:
        return self._exists(cur, namespace, name) or self.pending(cur, namespace, name) is not None

    def resolve_pending(self, cur: duckdb.DuckDBPyConnection, namespace: str, name: str) -> None:
        """Inside the transaction that created the table: carry the description over and drop the pending row."""
        record = self.pending(cur, namespace, name)
        if record is None:
            return
        if record[0]:
            cur.execute(f"COMMENT ON TABLE {_qualified(namespace, name)} IS {sql_literal(record[0])}")
        cur.execute(f"DELETE FROM {_PENDING} WHERE namespace = ? AND name = ?", [namespace, name])  # noqa: S608

    def create(
        self,
        name: str,
        columns: Sequence[Column | Mapping[str, Any]] | None = None,
        *,
        namespace: str | None = None,
        description: str | None = None,
    ) -> Dataset:
        """Create an empty dataset with these columns, in one lake commit. Without columns (None), the dataset awaits
        its first ingest, which creates it with the inferred schema."""
        namespace, name = split_name(name, namespace)
        ddl = _columns_ddl(columns)[0] if columns is not None else None
        with self.lake.cursor() as cur, self.lake.write(cur):
            if self._taken(cur, namespace, name):
                raise DatasetExists(f"dataset {namespace}.{name} exists", field="name")
            if ddl is None:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{quote(SYSTEM_NAMESPACE)}")
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {_PENDING} "
                    "(namespace VARCHAR, name VARCHAR, description VARCHAR, created_at TIMESTAMP WITH TIME ZONE)"
                )
                cur.execute(
                    f"INSERT INTO {_PENDING} VALUES (?, ?, ?, now())",  # noqa: S608 (constant)
                    [namespace, name, description],
                )
                return self._describe(cur, namespace, name, in_transaction=True)
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{quote(namespace)}")
            cur.execute(f"CREATE TABLE {_qualified(namespace, name)} ({ddl})")
            if description:
                cur.execute(f"COMMENT ON TABLE {_qualified(namespace, name)} IS {sql_literal(description)}")
        return self.get(name, namespace=namespace)

    def get(self, name: str, *, namespace: str | None = None) -> Dataset:
        namespace, name = split_name(name, namespace)
        with self.lake.cursor() as cur:
            return self._describe(cur, namespace, name)

    def json_schema(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        """The JSON Schema (2020-12) of one row of the dataset (``tables.json_schema``)."""
        import pyarrow

        from lakehouse.tables.json_schema import row_schema

        namespace, name = split_name(name, namespace)
        with self.lake.cursor() as cur, transaction(cur):
            dataset = self._describe(cur, namespace, name, in_transaction=True)
            if dataset.state != READY:
                arrow = pyarrow.schema([])
            else:
                arrow = cur.execute(f"SELECT * FROM {_qualified(namespace, name)} LIMIT 0").to_arrow_table().schema  # noqa: S608 (validated, quoted identifiers)
        not_null = {c.name for c in dataset.columns if not c.nullable}
        document = row_schema(f"{namespace}.{name}", arrow, not_null, dataset.description)
        if dataset.state != READY:
            document.pop("additionalProperties")
        return document

    def _describe(
        self, cur: duckdb.DuckDBPyConnection, namespace: str, name: str, *, in_transaction: bool = False
    ) -> Dataset:
        with contextlib.nullcontext() if in_transaction else transaction(cur):  # one snapshot for every read below
            row = cur.execute(
                "SELECT comment FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? AND table_name = ?",
                [CATALOG, namespace, name],
            ).fetchone()
            if row is None:
                return self._describe_pending(cur, namespace, name)
            columns = [
                Column(name=n, type=t, nullable=nullable == "YES")
                for n, t, nullable in cur.execute(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                    "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                    [CATALOG, namespace, name],
                ).fetchall()
            ]
            count_row = cur.execute(f"SELECT count(*) FROM {_qualified(namespace, name)}").fetchone()  # noqa: S608 (validated, quoted identifiers)
            info = _table_info(cur, namespace, name)
            snapshot_row = cur.execute(f"SELECT id FROM {CATALOG}.current_snapshot()").fetchone()  # noqa: S608 (validated, quoted identifiers)
            table_id = str(info[0]) if info else None
            created_at, updated_at = self._times(cur, f"{namespace}.{name}", table_id)
        return Dataset(
            namespace=namespace,
            name=name,
            description=row[0] or None,
            columns=columns,
            row_count=int(count_row[0]) if count_row else 0,
            size_bytes=int(info[2]) if info else 0,
            file_count=int(info[1]) if info else 0,
            snapshot_id=int(snapshot_row[0]) if snapshot_row else 0,
            created_at=created_at,
            updated_at=updated_at,
        )

    def _describe_pending(self, cur: duckdb.DuckDBPyConnection, namespace: str, name: str) -> Dataset:
        record = self.pending(cur, namespace, name)
        if record is None:
            raise DatasetNotFound(f"no dataset {namespace}.{name}", field="name")
        snapshot_row = cur.execute(f"SELECT id FROM {CATALOG}.current_snapshot()").fetchone()  # noqa: S608 (constant)
        return Dataset(
            namespace=namespace,
            name=name,
            description=record[0] or None,
            columns=[],
            row_count=0,
            size_bytes=0,
            file_count=0,
            snapshot_id=int(snapshot_row[0]) if snapshot_row else 0,
            created_at=record[1],
            updated_at=record[1],
            state=AWAITING_FIRST_INGEST,
        )

    def _times(
        self, cur: duckdb.DuckDBPyConnection, qualified: str, table_id: str | None
    ) -> tuple[datetime | None, datetime | None]:
        created = updated = None
        for snap in self._snapshots(cur):
            if self._touches(snap, qualified, table_id):
                created = created or snap.time
                updated = snap.time
        return created, updated

    @staticmethod
    def _touches(snap: Snapshot, qualified: str, table_id: str | None) -> bool:
        for operation, targets in snap.operations.items():
            if operation == "tables_created" and qualified in targets:
                return True
            if operation != "tables_created" and table_id is not None and table_id in targets:
                return True
        return False

    @staticmethod
    def _snapshots(cur: duckdb.DuckDBPyConnection) -> list[Snapshot]:
        rows = cur.execute(
            f"SELECT snapshot_id, snapshot_time, changes FROM {CATALOG}.snapshots() ORDER BY snapshot_id"  # noqa: S608 (validated, quoted identifiers)
        ).fetchall()
        return [
            Snapshot(id=int(i), time=t, operations={k: [str(x) for x in v] for k, v in (c or {}).items()})
            for i, t, c in rows
        ]

    def snapshots(self, name: str, *, namespace: str | None = None) -> list[Snapshot]:
        """The snapshots that changed this dataset, oldest first, with the rows each inserted, deleted, updated."""
        dataset = self.get(name, namespace=namespace)
        if dataset.state == AWAITING_FIRST_INGEST:
            return []
        with self.lake.cursor() as cur:
            with transaction(cur):
                info = _table_info(cur, dataset.namespace, dataset.name)
                table_id = str(info[0]) if info else None
                qualified = f"{dataset.namespace}.{dataset.name}"
                found = [s for s in self._snapshots(cur) if self._touches(s, qualified, table_id)]
            if not found:
                return []
            counts = _row_changes(cur, dataset.namespace, dataset.name, found[0].id, found[-1].id)
        if counts is None:
            return found
        return [
            s.model_copy(
                update={
                    "rows_inserted": counts.get((s.id, "insert"), 0),
                    "rows_deleted": counts.get((s.id, "delete"), 0),
                    "rows_updated": counts.get((s.id, "update_postimage"), 0),
                }
            )
            for s in found
        ]

    def list(self, namespace: str | None = None) -> list[tuple[str, str]]:
        """(namespace, name) of every dataset (awaiting its first ingest or not), in order."""
        query = (
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = ? AND schema_name NOT IN (?, ?, ?, ?)"
        )
        params: list[Any] = [CATALOG, SYSTEM_NAMESPACE, VECTORS_NAMESPACE, OBSERVE_NAMESPACE, REPLAY_NAMESPACE]
        if namespace is not None:
            query += " AND schema_name = ?"
            params.append(validate_namespace(namespace))
        with self.lake.cursor() as cur, transaction(cur):
            found = {(str(s), str(t)) for s, t in cur.execute(query, params).fetchall()}
            if self._exists(cur, SYSTEM_NAMESPACE, _PENDING_TABLE):
                pending = f"SELECT namespace, name FROM {_PENDING}"  # noqa: S608 (constant)
                rows = cur.execute(pending + (" WHERE namespace = ?" if namespace else ""), params[5:]).fetchall()
                found.update((str(s), str(t)) for s, t in rows)
        return sorted(found)

    def update(
        self, name: str, *, namespace: str | None = None, new_name: str | None = None, description: str | None = None
    ) -> Dataset:
        """Rename (within its namespace) and/or set the description, in one commit."""
        namespace, name = split_name(name, namespace)
        target = validate_identifier(new_name, "new_name") if new_name is not None else name
        with self.lake.cursor() as cur, self.lake.write(cur):
            if not self._exists(cur, namespace, name):
                if self.pending(cur, namespace, name) is None:
                    raise DatasetNotFound(f"no dataset {namespace}.{name}", field="name")
                if target != name and self._taken(cur, namespace, target):
                    raise DatasetExists(f"dataset {namespace}.{target} exists", field="new_name")
                cur.execute(
                    f"UPDATE {_PENDING} SET name = ?, description = coalesce(?, description) "  # noqa: S608 (constant)
                    "WHERE namespace = ? AND name = ?",
                    [target, description, namespace, name],
                )
                return self._describe(cur, namespace, target, in_transaction=True)
            if target != name:
                if self._taken(cur, namespace, target):
                    raise DatasetExists(f"dataset {namespace}.{target} exists", field="new_name")
                cur.execute(f"ALTER TABLE {_qualified(namespace, name)} RENAME TO {quote(target)}")
            if description is not None:
                cur.execute(f"COMMENT ON TABLE {_qualified(namespace, target)} IS {sql_literal(description)}")
        return self.get(target, namespace=namespace)

    def drop(self, name: str, *, namespace: str | None = None) -> int:
        """Drop the dataset; its data stays reachable by time travel until snapshots expire. Returns the snapshot."""
        namespace, name = split_name(name, namespace)
        with self.lake.cursor() as cur, self.lake.write(cur):
            if self._exists(cur, namespace, name):
                cur.execute(f"DROP TABLE {_qualified(namespace, name)}")
            elif self.pending(cur, namespace, name) is not None:
                cur.execute(f"DELETE FROM {_PENDING} WHERE namespace = ? AND name = ?", [namespace, name])  # noqa: S608
            else:
                raise DatasetNotFound(f"no dataset {namespace}.{name}", field="name")
        return self.lake.current_snapshot()


_TABLE_INFO = (  # a constant: the catalog name is ours
    "SELECT i.table_id, i.file_count, i.file_size_bytes + i.delete_file_size_bytes "  # noqa: S608
    f"FROM ducklake_table_info('{CATALOG}') i "
    f"JOIN __ducklake_metadata_{CATALOG}.ducklake_schema s ON s.schema_id = i.schema_id AND s.end_snapshot IS NULL "
    "WHERE i.table_name = ? AND s.schema_name = ?"
)


def _table_info(cur: duckdb.DuckDBPyConnection, namespace: str, name: str) -> tuple[Any, ...] | None:
    """(table_id, file_count, bytes on disk) of a live table, from DuckLake's own bookkeeping."""
    return cur.execute(_TABLE_INFO, [name, namespace]).fetchone()


def _row_changes(
    cur: duckdb.DuckDBPyConnection, namespace: str, name: str, first: int, last: int
) -> dict[tuple[int, str], int] | None:
    """(snapshot id, change type) -> rows, from DuckLake's change feed; None when it cannot be read (expired files)."""
    try:
        rows = cur.execute(
            "SELECT snapshot_id, change_type, count(*) FROM ducklake_table_changes(?, ?, ?, ?, ?) GROUP BY ALL",
            [CATALOG, namespace, name, first, last],
        ).fetchall()
    except duckdb.Error:
        return None
    return {(int(i), str(kind)): int(n) for i, kind, n in rows}
