"""Datasets: the lake's tables, by namespace and name, with their columns, size and snapshots."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from lakehouse.errors import DatasetExists, DatasetNotFound, ErrorItem, InvalidColumnType, InvalidName
from lakehouse.tables.lake import CATALOG, Lake
from lakehouse.tables.names import normalize_type, quote, validate_identifier, validate_namespace

DEFAULT_NAMESPACE = "main"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class Snapshot:
    id: int
    time: datetime
    operations: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time.isoformat(), "operations": self.operations}


@dataclass(frozen=True)
class Dataset:
    namespace: str
    name: str
    description: str | None
    columns: list[Column]
    row_count: int
    size_bytes: int
    file_count: int
    snapshot_id: int
    created_at: datetime | None
    updated_at: datetime | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra")
        out["created_at"] = self.created_at.isoformat() if self.created_at else None
        out["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return out


@contextlib.contextmanager
def _transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One lake commit: everything inside is one snapshot, or nothing on any error."""
    cur.execute("BEGIN")
    try:
        yield
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


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
        raw: Mapping[str, Any] = asdict(col) if isinstance(col, Column) else col
        name = validate_identifier(str(raw.get("name", "")), f"columns[{index}].name")
        if name in seen:
            raise InvalidName(f"column {name!r} appears twice", field=f"columns[{index}].name")
        seen.add(name)
        parsed.append(
            Column(
                name,
                normalize_type(str(raw.get("type", "")), f"columns[{index}].type"),
                bool(raw.get("nullable", True)),
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

    def create(
        self,
        name: str,
        columns: Sequence[Column | Mapping[str, Any]],
        *,
        namespace: str | None = None,
        description: str | None = None,
    ) -> Dataset:
        """Create an empty dataset with these columns, in one lake commit."""
        namespace, name = split_name(name, namespace)
        ddl, _ = _columns_ddl(columns)
        with self.lake.cursor() as cur, _transaction(cur):
            if self._exists(cur, namespace, name):
                raise DatasetExists(f"dataset {namespace}.{name} exists", field="name")
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{quote(namespace)}")
            cur.execute(f"CREATE TABLE {_qualified(namespace, name)} ({ddl})")
            if description:
                cur.execute(f"COMMENT ON TABLE {_qualified(namespace, name)} IS {_sql_string(description)}")
        return self.get(name, namespace=namespace)

    def get(self, name: str, *, namespace: str | None = None) -> Dataset:
        namespace, name = split_name(name, namespace)
        with self.lake.cursor() as cur:
            return self._describe(cur, namespace, name)

    def _describe(self, cur: duckdb.DuckDBPyConnection, namespace: str, name: str) -> Dataset:
        with _transaction(cur):  # one snapshot for every read below
            row = cur.execute(
                "SELECT comment FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? AND table_name = ?",
                [CATALOG, namespace, name],
            ).fetchone()
            if row is None:
                raise DatasetNotFound(f"no dataset {namespace}.{name}", field="name")
            columns = [
                Column(n, t, nullable == "YES")
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
        return [Snapshot(int(i), t, {k: [str(x) for x in v] for k, v in (c or {}).items()}) for i, t, c in rows]

    def snapshots(self, name: str, *, namespace: str | None = None) -> list[Snapshot]:
        """The snapshots that changed this dataset, oldest first."""
        dataset = self.get(name, namespace=namespace)
        with self.lake.cursor() as cur:
            info = _table_info(cur, dataset.namespace, dataset.name)
            table_id = str(info[0]) if info else None
            qualified = f"{dataset.namespace}.{dataset.name}"
            return [s for s in self._snapshots(cur) if self._touches(s, qualified, table_id)]

    def list(self, namespace: str | None = None) -> list[tuple[str, str]]:
        """(namespace, name) of every dataset, in order."""
        query = "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?"
        params: list[Any] = [CATALOG]
        if namespace is not None:
            query += " AND schema_name = ?"
            params.append(validate_namespace(namespace))
        with self.lake.cursor() as cur:
            return [(str(s), str(t)) for s, t in cur.execute(query + " ORDER BY 1, 2", params).fetchall()]

    def update(
        self, name: str, *, namespace: str | None = None, new_name: str | None = None, description: str | None = None
    ) -> Dataset:
        """Rename (within its namespace) and/or set the description, in one commit."""
        namespace, name = split_name(name, namespace)
        target = validate_identifier(new_name, "new_name") if new_name else name
        with self.lake.cursor() as cur, _transaction(cur):
            if not self._exists(cur, namespace, name):
                raise DatasetNotFound(f"no dataset {namespace}.{name}", field="name")
            if target != name:
                if self._exists(cur, namespace, target):
                    raise DatasetExists(f"dataset {namespace}.{target} exists", field="new_name")
                cur.execute(f"ALTER TABLE {_qualified(namespace, name)} RENAME TO {quote(target)}")
            if description is not None:
                cur.execute(f"COMMENT ON TABLE {_qualified(namespace, target)} IS {_sql_string(description)}")
        return self.get(target, namespace=namespace)

    def drop(self, name: str, *, namespace: str | None = None) -> int:
        """Drop the dataset; its data stays reachable by time travel until snapshots expire. Returns the snapshot."""
        namespace, name = split_name(name, namespace)
        with self.lake.cursor() as cur, _transaction(cur):
            if not self._exists(cur, namespace, name):
                raise DatasetNotFound(f"no dataset {namespace}.{name}", field="name")
            cur.execute(f"DROP TABLE {_qualified(namespace, name)}")
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


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
