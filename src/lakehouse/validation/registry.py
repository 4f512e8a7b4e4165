"""The schema registry: named JSON Schemas in the operational DB, each registration an immutable new version.

``register`` checks the document (meta-schema, local references), compares it with the newest live version and
refuses breaking changes (409 ``breaking_change``) unless forced; registering the newest live document again is a
no-op that answers that version. ``retire`` stamps a version: it stays readable, but validating against it is 410
``schema_retired``, and "latest" skips it. Versions count up from 1 per name and are never reused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lakehouse.errors import BreakingChange, ErrorItem, InvalidName, SchemaNotFound, SchemaRetired
from lakehouse.opsdb.engine import read_transaction, write_transaction
from lakehouse.opsdb.schema import schema_versions as table
from lakehouse.validation.compat import breaking_changes
from lakehouse.validation.compiler import SchemaCache
from lakehouse.validation.model import NAME_PATTERN, SchemaSummary, SchemaVersion

_NAME = re.compile(NAME_PATTERN)


def validate_name(name: str, field_name: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidName(
            f"schema name {name!r} must start with a letter and hold only letters, digits, '_', '.' and '-' "
            "(at most 128)",
            field=field_name,
        )
    return name


@dataclass(frozen=True)
class Registered:
    """What ``register`` did: the version, and whether it is new (False: the newest live version is identical)."""

    version: SchemaVersion
    created: bool


def _row(row: Any) -> SchemaVersion:
    return SchemaVersion.model_construct(
        name=row.name,
        version=int(row.version),
        schema_=json.loads(row.document),
        draft=row.draft,
        fingerprint=row.fingerprint,
        description=row.description,
        created_at=row.created_at,
        retired_at=row.retired_at,
        breaking_changes=json.loads(row.breaking_changes) if row.breaking_changes else [],
    )


MAX_VERSION = 2**31 - 1  # versions are 32-bit integers in the operational DB


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"name"`` -> (name, None); ``"name@3"`` -> (name, 3)."""
    name, at, version = ref.partition("@")
    validate_name(name, "schema")
    if not at:
        return name, None
    if not (version.isascii() and version.isdigit()) or len(version) > 10 or not 1 <= int(version) <= MAX_VERSION:
        raise InvalidName(
            f"schema reference {ref!r}: the version after @ is an integer from 1 to {MAX_VERSION}", field="schema"
        )
    return name, int(version)


class SchemaRegistry:
    """Named, versioned JSON Schemas over the operational DB. Thread-safe; any number of processes."""

    def __init__(self, engine: sa.Engine, cache: SchemaCache) -> None:
        self.engine = engine
        self.cache = cache

    def register(self, name: str, schema: Any, *, description: str | None = None, force: bool = False) -> Registered:
        """Register ``schema`` as the next version of ``name``; 409 ``breaking_change`` against the newest live
        version unless ``force``; 422 ``invalid_schema`` / ``unresolvable_ref`` for a document that cannot be used."""
        validate_name(name)
        compiled = self.cache.get(schema)  # checks the document first: nothing is written for a bad one
        document = json.dumps(schema, ensure_ascii=False)  # as given; the fingerprint is of the canonical form
        with write_transaction(self.engine, f"schema:{name}") as conn:
            rows = conn.execute(
                sa.select(table).where(table.c.name == name).order_by(table.c.version.desc())
            ).fetchall()
            live = next((r for r in rows if r.retired_at is None), None)
            if (
                live is not None
                and live.fingerprint == compiled.fingerprint
                and (description is None or description == live.description)
            ):
                return Registered(_row(live), created=False)
            changes: list[ErrorItem] = breaking_changes(json.loads(live.document), schema) if live else []
            if changes and not force:
                raise BreakingChange(
                    f"{len(changes)} breaking change(s) against {name}@{live.version if live else 0}; "
                    "register with force=true to accept them",
                    errors=changes,
                )
            version = (int(rows[0].version) if rows else 0) + 1
            now = datetime.now(UTC)
            values = {
                "name": name,
                "version": version,
                "document": document,
                "fingerprint": compiled.fingerprint,
                "draft": compiled.draft,
                "description": description,
                "created_at": now,
                "retired_at": None,
                "breaking_changes": json.dumps([c.to_dict() for c in changes]) if changes else None,
            }
            conn.execute(table.insert().values(**values))
        version_row = SchemaVersion.model_construct(
            name=name,
            version=version,
            schema_=schema,
            draft=compiled.draft,
            fingerprint=compiled.fingerprint,
            description=description,
            created_at=now,
            retired_at=None,
            breaking_changes=[c.to_dict() for c in changes],
        )
        return Registered(version_row, created=True)

    def get(self, name: str, version: int | None = None) -> SchemaVersion:
        """``version`` of ``name``, or its newest live version (404 ``schema_not_found``, 410 when all retired)."""
        validate_name(name)
        with read_transaction(self.engine) as conn:
            query = sa.select(table).where(table.c.name == name)
            if version is not None:
                row = conn.execute(query.where(table.c.version == version)).first()
                if row is None:
                    raise SchemaNotFound(f"schema {name} has no version {version}", field="version")
                return _row(row)
            rows = conn.execute(query.order_by(table.c.version.desc())).fetchall()
        if not rows:
            raise SchemaNotFound(f"no schema named {name}", field="name")
        live = next((r for r in rows if r.retired_at is None), None)
        if live is None:
            raise SchemaRetired(f"every version of schema {name} is retired", field="name")
        return _row(live)

    def versions(self, name: str) -> list[SchemaVersion]:
        validate_name(name)
        with read_transaction(self.engine) as conn:
            rows = conn.execute(sa.select(table).where(table.c.name == name).order_by(table.c.version)).fetchall()
        if not rows:
            raise SchemaNotFound(f"no schema named {name}", field="name")
        return [_row(r) for r in rows]

    def list(self, *, after: str | None = None, limit: int = 100) -> list[SchemaSummary]:
        """One summary per name (ordered by name): newest version, newest live version, count, description."""
        with read_transaction(self.engine) as conn:
            names_query = sa.select(table.c.name).distinct().order_by(table.c.name).limit(limit)
            if after is not None:
                names_query = names_query.where(table.c.name > after)
            names = [r.name for r in conn.execute(names_query)]
            rows = (
                conn.execute(
                    sa.select(
                        table.c.name, table.c.version, table.c.description, table.c.created_at, table.c.retired_at
                    )
                    .where(table.c.name.in_(names))
                    .order_by(table.c.name, table.c.version)
                ).fetchall()
                if names
                else []
            )
        out: dict[str, dict[str, Any]] = {}
        for row in rows:
            entry = out.setdefault(
                row.name,
                {
                    "name": row.name,
                    "versions": 0,
                    "latest_version": None,
                    "live_versions": [],
                    "description": None,
                    "created_at": row.created_at,
                },
            )
            entry["versions"] += 1
            entry["updated_at"] = row.created_at
            if row.retired_at is None:
                entry["latest_version"] = int(row.version)
                entry["live_versions"].append(int(row.version))
                entry["description"] = row.description
        return [SchemaSummary.model_validate(out[n]) for n in names]

    def retire(self, name: str, version: int) -> SchemaVersion:
        """Retire ``version`` of ``name`` (idempotent: a retired version stays as it was)."""
        validate_name(name)
        with write_transaction(self.engine, f"schema:{name}") as conn:
            where = (table.c.name == name) & (table.c.version == version)
            row = conn.execute(sa.select(table).where(where)).first()
            if row is None:
                raise SchemaNotFound(f"schema {name} has no version {version}", field="version")
            if row.retired_at is None:
                conn.execute(table.update().where(where).values(retired_at=datetime.now(UTC)))
                row = conn.execute(sa.select(table).where(where)).first()
        return _row(row)
