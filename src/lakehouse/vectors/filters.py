"""The metadata filter language of vector search and delete, checked whole before use and compiled to a predicate.

A filter is a JSON object. Each key is either a metadata field (dotted for nested objects: ``"author.name"``)
mapped to ``{operator: value, ...}`` (several operators on one field must all hold), or a combinator:
``{"and": [filter, ...]}``, ``{"or": [filter, ...]}``, ``{"not": filter}``. Several keys in one object must all
hold. A bare value is shorthand for ``eq``: ``{"lang": "en"}`` is ``{"lang": {"eq": "en"}}``.

Operators: ``eq``, ``ne``, ``in``, ``nin`` (a list), ``gt``, ``gte``, ``lt``, ``lte`` (numbers, or strings compared
as strings), ``contains`` (a substring of a string field, or an element of a list field) and ``exists`` (true or
false). A field that is missing matches only ``ne``, ``nin`` and ``exists: false``; a comparison between a number
and a string is false, never an error. Anything else is refused with 422 ``invalid_filter`` naming where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lakehouse.errors import ErrorItem, InvalidFilter

Predicate = Callable[[Mapping[str, Any]], bool]

OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists")
COMBINATORS = ("and", "or", "not")
_MISSING = object()


def _lookup(metadata: Mapping[str, Any], path: list[str]) -> Any:
    value: Any = metadata
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _same(a: Any, b: Any) -> bool:
    """Equality where true is not 1 (JSON keeps booleans and numbers apart)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _ordered(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (isinstance(a, str) and isinstance(b, str))


def _leaf(op: str, expected: Any, path: list[str]) -> Predicate:
    def value_of(m: Mapping[str, Any]) -> Any:
        return _lookup(m, path)

    if op == "eq":
        return lambda m: (v := value_of(m)) is not _MISSING and _same(v, expected)
    if op == "ne":
        return lambda m: (v := value_of(m)) is _MISSING or not _same(v, expected)
    if op == "in":
        return lambda m: (v := value_of(m)) is not _MISSING and any(_same(v, e) for e in expected)
    if op == "nin":
        return lambda m: (v := value_of(m)) is _MISSING or not any(_same(v, e) for e in expected)
    if op == "exists":
        return lambda m: (value_of(m) is not _MISSING) == expected
    if op == "contains":

        def contains(m: Mapping[str, Any]) -> bool:
            v = value_of(m)
            if isinstance(v, str) and isinstance(expected, str):
                return expected in v
            if isinstance(v, list):
                return any(_same(item, expected) for item in v)
            return False

        return contains
    compare: Callable[[Any, Any], bool] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }[op]
    return lambda m: (v := value_of(m)) is not _MISSING and _ordered(v, expected) and compare(v, expected)


def _all(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    return lambda m: all(p(m) for p in predicates)


class _Compiler:
    def __init__(self) -> None:
        self.problems: list[ErrorItem] = []

    def refuse(self, where: str, reason: str) -> Predicate:
        self.problems.append(ErrorItem(kind="invalid_filter", field=where, reason=reason))
        return lambda m: False

    def node(self, spec: Any, where: str) -> Predicate:
        if not isinstance(spec, Mapping):
            return self.refuse(where, f"a filter is an object, not {type(spec).__name__}")
        if not spec:
            return lambda m: True
        return _all([self.key(str(key), value, f"{where}.{key}") for key, value in spec.items()])

    def key(self, key: str, value: Any, where: str) -> Predicate:
        if key in ("and", "or"):
            if not isinstance(value, list) or not value:
                return self.refuse(where, f"{key} takes a non-empty list of filters")
            parts = [self.node(item, f"{where}[{i}]") for i, item in enumerate(value)]
            if key == "and":
                return _all(parts)
            return lambda m: any(p(m) for p in parts)
        if key == "not":
            inner = self.node(value, where)
            return lambda m: not inner(m)
        if not key or key.startswith("$") or any(not part for part in key.split(".")):
            return self.refuse(where, f"{key!r} is not a field name")
        path = key.split(".")
        if not isinstance(value, Mapping):
            return _leaf("eq", value, path) if self.scalar(value, where) else (lambda m: False)
        if not value:
            return self.refuse(where, "a field's condition names at least one operator")
        return _all([self.operator(str(op), expected, path, f"{where}.{op}") for op, expected in value.items()])

    def scalar(self, value: Any, where: str) -> bool:
        if value is None or isinstance(value, str | int | float | bool):
            return True
        self.refuse(where, f"compares with a {type(value).__name__}; give a string, number, boolean or null")
        return False

    def operator(self, op: str, expected: Any, path: list[str], where: str) -> Predicate:
        if op not in OPERATORS:
            return self.refuse(where, f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
        if op in ("in", "nin"):
            if not isinstance(expected, list):
                return self.refuse(where, f"{op} takes a list")
            if not all(self.scalar(e, f"{where}[{i}]") for i, e in enumerate(expected)):
                return lambda m: False
        elif op == "exists":
            if not isinstance(expected, bool):
                return self.refuse(where, "exists takes true or false")
        elif op in ("gt", "gte", "lt", "lte"):
            if isinstance(expected, bool) or not isinstance(expected, int | float | str):
                return self.refuse(where, f"{op} takes a number or a string")
        elif not self.scalar(expected, where):
            return lambda m: False
        return _leaf(op, expected, path)


def compile_filter(spec: Any, field: str = "filter") -> Predicate:
    """The predicate ``spec`` describes; ``InvalidFilter`` listing every problem in it (each with its place)."""
    compiler = _Compiler()
    predicate = compiler.node(spec, field)
    if compiler.problems:
        raise InvalidFilter(f"the filter has {len(compiler.problems)} problem(s)", errors=compiler.problems)
    return predicate
