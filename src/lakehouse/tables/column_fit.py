"""Which incoming column types a dataset's column takes at ingest: as they are (the insert casts them), widened in
place (DuckLake's lossless promotions), or not at all (``schema_mismatch``)."""

from __future__ import annotations

# Lossless promotions DuckLake performs in place (ALTER COLUMN ... SET DATA TYPE).
_WIDENS_TO: dict[str, tuple[str, ...]] = {
    "TINYINT": ("SMALLINT", "INTEGER", "BIGINT"),
    "SMALLINT": ("INTEGER", "BIGINT"),
    "INTEGER": ("BIGINT",),
    "UTINYINT": ("USMALLINT", "UINTEGER", "UBIGINT", "SMALLINT", "INTEGER", "BIGINT"),
    "USMALLINT": ("UINTEGER", "UBIGINT", "INTEGER", "BIGINT"),
    "UINTEGER": ("UBIGINT", "BIGINT"),
    "FLOAT": ("DOUBLE",),
}
# Incoming types a column of the key type accepts as they are (the insert casts them without loss).
_FITS_INTO: dict[str, tuple[str, ...]] = {
    "BIGINT": ("TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER"),
    "INTEGER": ("TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"),
    "SMALLINT": ("TINYINT", "UTINYINT"),
    # JSON and CSV give whole numbers as BIGINT: a DOUBLE column takes them (exact up to 2^53, as in every SQL engine)
    "DOUBLE": ("FLOAT", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"),
    "HUGEINT": ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"),
    "VARCHAR": ("JSON",),
    "JSON": ("VARCHAR",),
    "TIMESTAMP WITH TIME ZONE": ("TIMESTAMP", "DATE"),
    "TIMESTAMP": ("DATE",),
}
# JSON and CSV have no decimal type: a DECIMAL column takes numbers, rounded to its scale on insert (a value past its
# precision is ``conversion_failed``).
_NUMBERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
    | {"FLOAT", "DOUBLE"}
)


def fits(expected: str, incoming: str) -> bool:
    """Whether a column of type ``expected`` takes incoming values of type ``incoming`` as they are. Lists fit
    element-wise; a JSON list (what JSON gives for lists that are all empty, or of mixed types) fits any list column,
    each element cast on insert (one that does not convert is ``conversion_failed``)."""
    if incoming in (expected, '"NULL"') or incoming in _FITS_INTO.get(expected, ()):
        return True
    if expected.startswith("DECIMAL(") and (incoming in _NUMBERS or incoming.startswith("DECIMAL(")):
        return True
    if expected.endswith("[]") and incoming.endswith("[]"):
        return incoming in ("JSON[]", '"NULL"[]') or fits(expected[:-2], incoming[:-2])
    return False


def widens(expected: str, incoming: str) -> bool:
    """Whether a column of type ``expected`` is widened in place to take ``incoming`` without loss."""
    return incoming in _WIDENS_TO.get(expected, ())
