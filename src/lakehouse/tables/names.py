"""Dataset names, namespaces and column types, checked before any of them reaches SQL."""

from __future__ import annotations

import re

from lakehouse.errors import ErrorItem, InvalidColumnType, InvalidName

IDENTIFIER_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
#: a dataset's name: ``name`` or ``namespace.name``
DATASET_PATTERN = r"^(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$"
_IDENT = re.compile(IDENTIFIER_PATTERN)
# Names DuckDB or the lake keep for themselves (``_lakehouse`` holds the lake's own bookkeeping tables).
SYSTEM_NAMESPACE = "_lakehouse"
VECTORS_NAMESPACE = "vectors"  # one table per vector collection, written by lakehouse.vectors only
OBSERVE_NAMESPACE = "observe"  # spans and scores, written by lakehouse.observe only
REPLAY_NAMESPACE = "replay"  # recorded traffic, written by lakehouse.replay only (every tenant's bodies)
MEMORY_NAMESPACE = "memory"  # DuckDB's in-memory catalog: /v1/sql's copy of the agent memory (lakehouse.memory.audit)
RESERVED_NAMESPACES = frozenset(
    {
        "information_schema",
        "pg_catalog",
        "temp",
        "system",
        SYSTEM_NAMESPACE,
        VECTORS_NAMESPACE,
        OBSERVE_NAMESPACE,
        REPLAY_NAMESPACE,
        MEMORY_NAMESPACE,
    }
)

_BASE_TYPES = frozenset(
    {
        "BOOLEAN",
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "FLOAT",
        "DOUBLE",
        "VARCHAR",
        "BLOB",
        "DATE",
        "TIME",
        "TIMESTAMP",
        "TIMESTAMP WITH TIME ZONE",
        "INTERVAL",
        "UUID",
        "JSON",
    }
)
_ALIASES = {
    "BOOL": "BOOLEAN",
    "INT": "INTEGER",
    "INT1": "TINYINT",
    "INT2": "SMALLINT",
    "INT4": "INTEGER",
    "INT8": "BIGINT",
    "LONG": "BIGINT",
    "FLOAT4": "FLOAT",
    "REAL": "FLOAT",
    "FLOAT8": "DOUBLE",
    "STRING": "VARCHAR",
    "TEXT": "VARCHAR",
    "BYTEA": "BLOB",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
    "DECIMAL": "DECIMAL(18,3)",
    "NUMERIC": "DECIMAL(18,3)",
}
_DECIMAL = re.compile(r"^(?:DECIMAL|NUMERIC)\((\d{1,2}),\s*(\d{1,2})\)$")


def validate_identifier(name: str, field: str = "name") -> str:
    """A lowercase SQL identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise InvalidName(
            f"{field} {str(name)[:80]!r} must be a lowercase identifier: a-z, 0-9 and '_', "
            "not starting with a digit, 1-63 characters",
            field=field,
        )
    return name


def validate_namespace(namespace: str) -> str:
    validate_identifier(namespace, "namespace")
    if namespace in RESERVED_NAMESPACES:
        raise InvalidName(f"namespace {namespace!r} is reserved", field="namespace")
    return namespace


def collection_namespace(collection: str) -> str:
    """The lake namespace a vector collection belongs to, for keys bound to namespaces: its name up to the first
    ``_`` (``support_faq`` -> ``support``), or its whole name (``docs``)."""
    return collection.split("_", 1)[0] or collection


def quote(identifier: str) -> str:
    """Double-quote a validated identifier for SQL."""
    return '"' + identifier.replace('"', '""') + '"'


def normalize_type(text: str, field: str = "type") -> str:
    """A column type from the allowed grammar, canonical: base types and their common aliases, DECIMAL(p,s) and
    lists ``T[]`` (up to three deep). Anything else is refused, so a type can never carry SQL."""
    cleaned = " ".join(str(text).strip().upper().split())
    depth = 0
    while cleaned.endswith("[]"):
        cleaned = cleaned[:-2].rstrip()
        depth += 1
    cleaned = _ALIASES.get(cleaned, cleaned)
    match = _DECIMAL.fullmatch(cleaned)
    ok = cleaned in _BASE_TYPES or (
        match is not None and 0 < int(match.group(1)) <= 38 and int(match.group(2)) <= int(match.group(1))
    )
    if not ok or depth > 3:
        raise InvalidColumnType(
            f"{field}: {str(text)[:60]!r} is not a supported column type",
            errors=[
                ErrorItem(
                    kind="invalid_column_type",
                    field=field,
                    reason=f"{str(text)[:60]!r} is not one of the base types, DECIMAL(p,s) or a list T[]",
                )
            ],
        )
    if match:
        cleaned = f"DECIMAL({match.group(1)},{match.group(2)})"
    return cleaned + "[]" * depth
