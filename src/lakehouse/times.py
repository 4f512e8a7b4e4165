"""Times are aware and in UTC everywhere past the edges: ``as_utc`` is the one place a naive time (SQLite gives
them back without a zone; a caller may send one) is taken as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """``value`` with its zone, or as UTC when it has none; ``None`` stays ``None``."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
