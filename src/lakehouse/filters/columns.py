"""``MetadataColumns``: a collection state's metadata as one column per filtered field, for whole-collection filter
masks (``Filter.mask``) without a Python test per point.

A field's column is made the first time a filter names it, from every point's metadata, and kept current as points
are put and dropped. It holds, per position, a code for the field's value (-1 when the field is missing; equal JSON
values share a code, 1 and 1.0 alike, true and 1 not) and the value as a float when it is a number. The distinct
values are kept once each, so any other test is made once per distinct value and spread to positions by code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lakehouse.filters.values import MISSING, Mask, lookup

_EXACT_INT = 2**53  # beyond this an integer's float is not exact: comparisons fall back to per-value tests


def _key(value: Any) -> tuple[Any, ...]:
    """Equal keys exactly when the filter language calls the values equal."""
    if value is None:
        return ("z",)
    kind = type(value)
    if kind is bool:
        return ("b", value)
    if kind is int or kind is float:
        return ("n", value)
    if kind is str:
        return ("s", value)
    return ("j", json.dumps(value, sort_keys=True))


class FieldColumn:
    def __init__(self, path: tuple[str, ...], capacity: int) -> None:
        self.path = path
        self._codes = np.full(capacity, -1, dtype=np.int32)
        self._numbers = np.full(capacity, np.nan, dtype=np.float64)
        self._code_of: dict[tuple[Any, ...], int] = {}
        self._values: list[Any] = []
        self.numbers_exact = True
        self.size = capacity

    def grow(self, capacity: int) -> None:
        if capacity > len(self._codes):
            length = max(capacity, 2 * len(self._codes))
            codes = np.full(length, -1, dtype=np.int32)
            codes[: len(self._codes)] = self._codes
            numbers = np.full(length, np.nan, dtype=np.float64)
            numbers[: len(self._numbers)] = self._numbers
            self._codes, self._numbers = codes, numbers
        self.size = capacity

    def set(self, position: int, metadata: dict[str, Any] | None) -> None:
        value = MISSING if metadata is None else lookup(metadata, self.path)
        if value is MISSING:
            self._codes[position] = -1
            self._numbers[position] = np.nan
            return
        key = _key(value)
        code = self._code_of.get(key)
        if code is None:
            code = self._code_of[key] = len(self._values)
            self._values.append(value)
        self._codes[position] = code
        kind = type(value)
        if kind is int or kind is float:
            self._numbers[position] = float(value)
            if kind is int and abs(value) > _EXACT_INT:
                self.numbers_exact = False
        else:
            self._numbers[position] = np.nan

    # -- masks ----------------------------------------------------------------------------------------------------

    def equals(self, expected: Sequence[Any]) -> Mask:
        """Positions whose value equals one of ``expected`` (scalars)."""
        codes = [self._code_of[key] for key in map(_key, expected) if key in self._code_of]
        live = self._codes[: self.size]
        if not codes:
            return np.zeros(self.size, dtype=bool)
        if len(codes) == 1:
            same: Mask = live == codes[0]
            return same
        return np.isin(live, np.asarray(codes, dtype=np.int32))

    def present(self) -> Mask:
        return self._codes[: self.size] >= 0

    def numbers(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Each position's value as a float, NaN where it is not a number (missing, text, true/false, ...)."""
        return self._numbers[: self.size]

    def decide(self, test: Callable[[Any], bool]) -> Mask:
        """``test`` made once per distinct value (and once for a missing field), spread to positions by code."""
        table = np.fromiter((test(v) for v in self._values), dtype=bool, count=len(self._values))
        table = np.append(table, bool(test(MISSING)))  # code -1 reads the last entry
        spread: Mask = table[self._codes[: self.size]]
        return spread


class MetadataColumns:
    """Columns over positions ``0..size-1``; ``metadata_at(position)`` gives a live point's metadata or None."""

    def __init__(self, metadata_at: Callable[[int], dict[str, Any] | None]) -> None:
        self._metadata_at = metadata_at
        self._columns: dict[tuple[str, ...], FieldColumn] = {}
        self.size = 0

    def resize(self, size: int) -> None:
        self.size = size
        for column in self._columns.values():
            column.grow(size)

    def column(self, path: tuple[str, ...]) -> FieldColumn:
        column = self._columns.get(path)
        if column is None:
            column = FieldColumn(path, self.size)
            for position in range(self.size):
                column.set(position, self._metadata_at(position))
            self._columns[path] = column
        return column

    def put(self, position: int, metadata: dict[str, Any] | None) -> None:
        for column in self._columns.values():
            column.set(position, metadata)

    def clear(self) -> None:
        self._columns.clear()
        self.size = 0

    @property
    def nbytes(self) -> int:
        return sum(c.size * 12 for c in self._columns.values())
