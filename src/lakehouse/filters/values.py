"""The values of the filter language: a field looked up in a metadata object (``MISSING`` when absent), JSON
equality where true is not 1, which values compare, and the test each operator makes of one value.

Shared by the compiled filters (``filters.language``) and the per-field columns (``filters.columns``), so both
decide a value the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Mask = np.ndarray[Any, np.dtype[np.bool_]]

OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists")
COMBINATORS = ("and", "or", "not")
MISSING: Any = object()  # the value of a field a metadata object does not have


def lookup(metadata: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = metadata
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def same(a: Any, b: Any) -> bool:
    """Equality where true is not 1 (JSON keeps booleans and numbers apart)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def ordered(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (isinstance(a, str) and isinstance(b, str))


def value_test(op: str, expected: Any) -> Callable[[Any], bool]:
    """The test ``op`` makes of one field value (``MISSING`` when the field is absent)."""
    if op == "eq":
        return lambda v: v is not MISSING and same(v, expected)
    if op == "ne":
        return lambda v: v is MISSING or not same(v, expected)
    if op == "in":
        return lambda v: v is not MISSING and any(same(v, e) for e in expected)
    if op == "nin":
        return lambda v: v is MISSING or not any(same(v, e) for e in expected)
    if op == "exists":
        return lambda v: (v is not MISSING) == expected
    if op == "contains":

        def contains(v: Any) -> bool:
            if isinstance(v, str) and isinstance(expected, str):
                return expected in v
            if isinstance(v, list):
                return any(same(item, expected) for item in v)
            return False

        return contains
    compare: Callable[[Any, Any], bool] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }[op]
    return lambda v: v is not MISSING and ordered(v, expected) and compare(v, expected)
