"""The metadata filter language of vector search and delete, checked whole before use and compiled to a predicate.

A filter is a JSON object. Each key is either a metadata field (dotted for nested objects: ``"author.name"``)
mapped to ``{operator: value, ...}`` (several operators on one field must all hold), or a combinator:
``{"and": [filter, ...]}``, ``{"or": [filter, ...]}``, ``{"not": filter}``. Several keys in one object must all
hold. A bare value is shorthand for ``eq``: ``{"lang": "en"}`` is ``{"lang": {"eq": "en"}}``.

Operators: ``eq``, ``ne``, ``in``, ``nin`` (a list), ``gt``, ``gte``, ``lt``, ``lte`` (numbers, or strings compared
as strings), ``contains`` (a substring of a string field, or an element of a list field) and ``exists`` (true or
false). A field that is missing matches only ``ne``, ``nin`` and ``exists: false``; a comparison between a number
and a string is false, never an error. Anything else is refused with 422 ``invalid_filter`` naming where it is.

A compiled ``Filter`` answers for one metadata object (``filter(metadata)``) and for a whole collection at once
(``filter.mask(columns)``, over ``filters.columns.MetadataColumns``): equality, ``in``, ``exists`` and comparisons
with a number are array operations on the field's codes and numbers; any other operator is decided once per distinct
value of the field with the same test as a single object, so both answers agree by construction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from lakehouse.errors import ErrorItem, InvalidFilter
from lakehouse.filters.values import OPERATORS, Mask, lookup, value_test

if TYPE_CHECKING:
    from lakehouse.filters.columns import MetadataColumns


class Filter(ABC):
    """A compiled filter: ``filter(metadata)`` for one object, ``filter.mask(columns)`` for every position."""

    @abstractmethod
    def __call__(self, metadata: Mapping[str, Any]) -> bool: ...

    @abstractmethod
    def mask(self, columns: MetadataColumns) -> Mask: ...


class _Everything(Filter):
    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        return True

    def mask(self, columns: MetadataColumns) -> Mask:
        return np.ones(columns.size, dtype=bool)


class _Leaf(Filter):
    def __init__(self, op: str, expected: Any, path: tuple[str, ...]) -> None:
        self.op, self.expected, self.path = op, expected, path
        self.test = value_test(op, expected)

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        return self.test(lookup(metadata, self.path))

    def mask(self, columns: MetadataColumns) -> Mask:
        column = columns.column(self.path)
        op, expected = self.op, self.expected
        if op in ("eq", "ne"):
            hit = column.equals([expected])
            return hit if op == "eq" else ~hit
        if op in ("in", "nin"):
            hit = column.equals(expected)
            return hit if op == "in" else ~hit
        if op == "exists":
            present = column.present()
            return present if expected else ~present
        if op in ("gt", "gte", "lt", "lte") and not isinstance(expected, str) and column.numbers_exact:
            numbers = column.numbers()
            with np.errstate(invalid="ignore"):
                compared: Mask = {
                    "gt": np.greater,
                    "gte": np.greater_equal,
                    "lt": np.less,
                    "lte": np.less_equal,
                }[op](numbers, float(expected))
            return compared
        return column.decide(self.test)


class _And(Filter):
    def __init__(self, parts: list[Filter]) -> None:
        self.parts = parts

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        return all(p(metadata) for p in self.parts)

    def mask(self, columns: MetadataColumns) -> Mask:
        out = self.parts[0].mask(columns)
        for part in self.parts[1:]:
            out = out & part.mask(columns)
        return out


class _Or(Filter):
    def __init__(self, parts: list[Filter]) -> None:
        self.parts = parts

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        return any(p(metadata) for p in self.parts)

    def mask(self, columns: MetadataColumns) -> Mask:
        out = self.parts[0].mask(columns)
        for part in self.parts[1:]:
            out = out | part.mask(columns)
        return out


class _Not(Filter):
    def __init__(self, inner: Filter) -> None:
        self.inner = inner

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        return not self.inner(metadata)

    def mask(self, columns: MetadataColumns) -> Mask:
        return ~self.inner.mask(columns)


class _Nothing(Filter):
    """Stands for a refused part while the rest is still checked; never returned (the compile raises)."""

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        return False

    def mask(self, columns: MetadataColumns) -> Mask:
        return np.zeros(columns.size, dtype=bool)


def _all(parts: list[Filter]) -> Filter:
    return parts[0] if len(parts) == 1 else _And(parts)


class _Compiler:
    def __init__(self) -> None:
        self.problems: list[ErrorItem] = []

    def refuse(self, where: str, reason: str) -> Filter:
        self.problems.append(ErrorItem(kind="invalid_filter", field=where, reason=reason))
        return _Nothing()

    def node(self, spec: Any, where: str) -> Filter:
        if not isinstance(spec, Mapping):
            return self.refuse(where, f"a filter is an object, not {type(spec).__name__}")
        if not spec:
            return _Everything()
        return _all([self.key(str(key), value, f"{where}.{key}") for key, value in spec.items()])

    def key(self, key: str, value: Any, where: str) -> Filter:
        if key in ("and", "or"):
            if not isinstance(value, list) or not value:
                return self.refuse(where, f"{key} takes a non-empty list of filters")
            parts = [self.node(item, f"{where}[{i}]") for i, item in enumerate(value)]
            return _all(parts) if key == "and" else _Or(parts)
        if key == "not":
            return _Not(self.node(value, where))
        if not key or key.startswith("$") or any(not part for part in key.split(".")):
            return self.refuse(where, f"{key!r} is not a field name")
        path = tuple(key.split("."))
        if not isinstance(value, Mapping):
            return _Leaf("eq", value, path) if self.scalar(value, where) else _Nothing()
        if not value:
            return self.refuse(where, "a field's condition names at least one operator")
        return _all([self.operator(str(op), expected, path, f"{where}.{op}") for op, expected in value.items()])

    def scalar(self, value: Any, where: str) -> bool:
        if value is None or isinstance(value, str | int | float | bool):
            return True
        self.refuse(where, f"compares with a {type(value).__name__}; give a string, number, boolean or null")
        return False

    def operator(self, op: str, expected: Any, path: tuple[str, ...], where: str) -> Filter:
        if op not in OPERATORS:
            return self.refuse(where, f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
        if op in ("in", "nin"):
            if not isinstance(expected, list):
                return self.refuse(where, f"{op} takes a list")
            if not all(self.scalar(e, f"{where}[{i}]") for i, e in enumerate(expected)):
                return _Nothing()
        elif op == "exists":
            if not isinstance(expected, bool):
                return self.refuse(where, "exists takes true or false")
        elif op in ("gt", "gte", "lt", "lte"):
            if isinstance(expected, bool) or not isinstance(expected, int | float | str):
                return self.refuse(where, f"{op} takes a number or a string")
        elif not self.scalar(expected, where):
            return _Nothing()
        return _Leaf(op, expected, path)


def compile_filter(spec: Any, field: str = "filter") -> Filter:
    """The filter ``spec`` describes; ``InvalidFilter`` listing every problem in it (each with its place)."""
    compiler = _Compiler()
    compiled = compiler.node(spec, field)
    if compiler.problems:
        raise InvalidFilter(f"the filter has {len(compiler.problems)} problem(s)", errors=compiler.problems)
    return compiled
