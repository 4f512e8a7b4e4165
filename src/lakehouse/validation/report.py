"""Validation errors as the wire's error items: one stable ``kind`` per JSON Schema keyword, where, why, parameters.

The validator's own errors (jsonschema-rs) are turned into :class:`~lakehouse.errors.ErrorItem` here and nowhere
else, so the wire format does not move when the library does: ``kind`` comes from :data:`KINDS`, ``field`` is the
dotted path (``items[2].qty``), ``pointer`` the RFC 6901 pointer (``/items/2/qty``), ``reason`` is written here
(never the library's message, which quotes the value), and ``ctx`` carries the keyword's parameters
(``{"limit": 5}``). A ``required`` or ``additional_properties`` item points at the member itself, one item per
member. For ``oneOf``/``anyOf`` the errors of the branch that came closest are reported, not every branch's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from lakehouse.errors import ErrorItem
from lakehouse.jsonpointer import location

#: every kind a payload error item can have, with what it means (docs/wire-format.md has a section for each)
KINDS: dict[str, str] = {
    "type": "the value has another JSON type",
    "required": "a required member is missing",
    "dependent_required": "a member that another member requires is missing",
    "additional_properties": "a member the schema does not allow",
    "unevaluated_properties": "a member no subschema evaluated",
    "enum": "a value outside the allowed set",
    "const": "a value other than the one allowed",
    "format": "a string that is not of its format (email, date-time, uuid, ...)",
    "minimum": "a number below the minimum",
    "maximum": "a number above the maximum",
    "exclusive_minimum": "a number at or below the exclusive minimum",
    "exclusive_maximum": "a number at or above the exclusive maximum",
    "multiple_of": "a number that is not a multiple of the divisor",
    "min_length": "a string shorter than allowed",
    "max_length": "a string longer than allowed",
    "pattern": "a string that does not match the pattern",
    "min_items": "an array with fewer items than allowed",
    "max_items": "an array with more items than allowed",
    "unique_items": "an array whose items repeat",
    "additional_items": "an array item past the ones the schema allows",
    "unevaluated_items": "an array item no subschema evaluated",
    "contains": "an array with no item matching `contains`",
    "min_contains": "an array with fewer matching items than `minContains`",
    "max_contains": "an array with more matching items than `maxContains`",
    "min_properties": "an object with fewer members than allowed",
    "max_properties": "an object with more members than allowed",
    "property_names": "a member name that breaks `propertyNames`",
    "one_of": "a value matching none, or more than one, of the `oneOf` alternatives",
    "any_of": "a value matching none of the `anyOf` alternatives",
    "not": "a value matching the schema under `not`",
    "false_schema": "a value where the schema allows none",
    "content_encoding": "a string that is not in its `contentEncoding`",
    "content_media_type": "a string that is not of its `contentMediaType`",
    "invalid_value": "any other rule the value breaks",
}

_CLASS_KINDS = {
    "AdditionalItems": "additional_items",
    "AdditionalProperties": "additional_properties",
    "AnyOf": "any_of",
    "BacktrackLimitExceeded": "pattern",
    "Constant": "const",
    "Contains": "contains",
    "ContentEncoding": "content_encoding",
    "ContentMediaType": "content_media_type",
    "Enum": "enum",
    "ExclusiveMaximum": "exclusive_maximum",
    "ExclusiveMinimum": "exclusive_minimum",
    "FalseSchema": "false_schema",
    "Format": "format",
    "FromUtf8": "content_encoding",
    "MaxItems": "max_items",
    "MaxLength": "max_length",
    "MaxProperties": "max_properties",
    "Maximum": "maximum",
    "MinItems": "min_items",
    "MinLength": "min_length",
    "MinProperties": "min_properties",
    "Minimum": "minimum",
    "MultipleOf": "multiple_of",
    "Not": "not",
    "OneOfMultipleValid": "one_of",
    "OneOfNotValid": "one_of",
    "Pattern": "pattern",
    "PropertyNames": "property_names",
    "RegexEngineFailure": "pattern",
    "Required": "required",
    "Type": "type",
    "UnevaluatedItems": "unevaluated_items",
    "UnevaluatedProperties": "unevaluated_properties",
    "UniqueItems": "unique_items",
}


def json_type(value: Any) -> str:
    """The JSON type name of a Python value as JSON Schema sees it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listing(values: Iterable[Any], limit: int = 10) -> str:
    items = list(values)
    shown = ", ".join(_short(v, 30) for v in items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def _schema_at(root: Any, path: Sequence[str | int]) -> Any:
    node = root
    for part in path:
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def _item(kind: str, where: Sequence[str | int], prefix: Sequence[str | int], reason: str, **ctx: Any) -> ErrorItem:
    field, pointer = location(where, prefix)
    label = field or "the payload"
    extra = {"ctx": ctx} if ctx else {}
    return ErrorItem(kind=kind, field=field, pointer=pointer, reason=reason.replace("{at}", label), extra=extra)


class Reporter:
    """Turns one validator error into error items, given the schema document (for parameters the error lacks)."""

    def __init__(self, schema: Any, prefix: Sequence[str | int] = ()) -> None:
        self.schema = schema
        self.prefix = tuple(prefix)

    def items(self, errors: Iterable[Any], max_errors: int) -> list[ErrorItem]:
        out: list[ErrorItem] = []
        for error in errors:
            out.extend(self.expand(error))
            if len(out) >= max_errors:
                return out[:max_errors]
        return out

    def expand(self, error: Any) -> Iterator[ErrorItem]:
        name = type(error.kind).__name__
        kind = _CLASS_KINDS.get(name, "invalid_value")
        params: dict[str, Any] = error.kind.as_dict()
        where: list[str | int] = list(error.instance_path)
        keyword = error.schema_path[-1] if error.schema_path else ""
        instance = error.instance
        if kind == "required":
            prop = params["property"]
            kind = "dependent_required" if keyword == "dependentRequired" else kind
            yield _item(kind, [*where, prop], self.prefix, "{at} is required", property=prop)
        elif kind in ("additional_properties", "unevaluated_properties") and "unexpected" in params:
            for prop in params["unexpected"]:
                yield _item(kind, [*where, prop], self.prefix, "{at} is not allowed here", property=prop)
        elif kind in ("any_of", "one_of") and name != "OneOfMultipleValid":
            yield from self._alternatives(kind, where, params.get("context") or [], instance)
        elif name == "OneOfMultipleValid":
            matched = [i for i, branch in enumerate(params.get("context") or []) if not branch]
            yield _item(kind, where, self.prefix, "{at} matches more than one oneOf alternative", matched=matched)
        elif kind == "type":
            expected = sorted(params.get("types") or [])
            actual = json_type(instance)
            yield _item(
                kind,
                where,
                self.prefix,
                f"{{at}} is {actual}, not {' or '.join(expected)}",
                expected=expected,
                actual=actual,
            )
        elif kind == "enum":
            allowed = list(params.get("options") or [])
            yield _item(kind, where, self.prefix, f"{{at}} must be one of {_listing(allowed)}", allowed=allowed)
        elif kind == "const":
            value = params.get("expected_value")
            yield _item(kind, where, self.prefix, f"{{at}} must be {_short(value)}", expected=value)
        elif kind == "format":
            fmt = params.get("format")
            yield _item(kind, where, self.prefix, f"{{at}} is not a valid {fmt}", format=fmt)
        elif kind in _LIMITS:
            limit = params.get("limit")
            yield _item(kind, where, self.prefix, _LIMITS[kind].format(limit=limit), limit=limit)
        elif kind == "multiple_of":
            divisor = params.get("multiple_of")
            yield _item(kind, where, self.prefix, f"{{at}} must be a multiple of {divisor}", multiple_of=divisor)
        elif kind == "pattern":
            pattern = params.get("pattern") or _schema_at(self.schema, error.schema_path)
            yield _item(kind, where, self.prefix, f"{{at}} must match the pattern {pattern}", pattern=pattern)
        elif kind == "contains":
            if keyword in ("minContains", "maxContains"):
                kind = "min_contains" if keyword == "minContains" else "max_contains"
                limit = _schema_at(self.schema, error.schema_path)
                bound = "at least" if kind == "min_contains" else "at most"
                ctx = {"limit": limit} if isinstance(limit, int) else {}
                yield _item(kind, where, self.prefix, f"{{at}} must have {bound} {limit} matching items", **ctx)
            else:
                yield _item(kind, where, self.prefix, "{at} has no item matching the contains schema")
        elif kind == "property_names":
            inner = params.get("error")
            prop = inner.instance if inner is not None else None
            yield _item(
                kind, where, self.prefix, f"{{at}} has a member name {_short(prop)} that is not allowed", property=prop
            )
        elif kind == "unique_items":
            yield _item(kind, where, self.prefix, "{at} has repeated items")
        elif kind == "additional_items":
            limit = params.get("limit")
            yield _item(kind, where, self.prefix, f"{{at}} may have only {limit} items", limit=limit)
        elif kind == "unevaluated_items":
            yield _item(kind, where, self.prefix, "{at} has items no subschema allows")
        elif kind == "false_schema":
            if keyword == "items":
                yield _item("additional_items", where, self.prefix, "{at} is past the items the schema allows")
            else:
                yield _item(kind, where, self.prefix, "{at} is not allowed here")
        elif kind == "not":
            yield _item(kind, where, self.prefix, "{at} must not match the schema under not")
        elif kind == "content_encoding":
            encoding = params.get("content_encoding")
            yield _item(kind, where, self.prefix, f"{{at}} is not valid {encoding}", encoding=encoding)
        elif kind == "content_media_type":
            media = params.get("content_media_type")
            yield _item(kind, where, self.prefix, f"{{at}} is not valid {media}", media_type=media)
        else:
            yield _item("invalid_value", where, self.prefix, "{at} is not valid: " + str(error.message)[:200])

    def _alternatives(
        self, kind: str, where: list[str | int], branches: list[list[Any]], instance: Any
    ) -> Iterator[ErrorItem]:
        """The errors of the alternative that came closest; one ``any_of``/``one_of`` item when none came close
        (every alternative wants another type, or another value of its discriminating member)."""
        depth = len(where)
        candidates: list[tuple[int, int, list[Any]]] = []
        for branch in branches:
            kinds = [(_CLASS_KINDS.get(type(e.kind).__name__), len(e.instance_path)) for e in branch]
            if not branch or any(k in ("type", "false_schema") and d == depth for k, d in kinds):
                continue  # wants another type here
            if any(k in ("const", "enum") and d == depth + 1 for k, d in kinds):
                continue  # its discriminating member has another value
            weak = all(k in ("const", "enum") and d == depth for k, d in kinds)
            candidates.append((int(weak), len(branch), branch))
        candidates.sort(key=lambda c: (c[0], c[1]))
        if candidates and not (candidates[0][0] and len(candidates) > 1):
            for error in candidates[0][2]:
                yield from self.expand(error)
            return
        what = "oneOf" if kind == "one_of" else "anyOf"
        yield _item(
            kind,
            where,
            self.prefix,
            f"{{at}} ({json_type(instance)}) matches none of the {len(branches)} {what} alternatives",
            alternatives=len(branches),
        )


_LIMITS = {
    "minimum": "{{at}} must be >= {limit}",
    "maximum": "{{at}} must be <= {limit}",
    "exclusive_minimum": "{{at}} must be > {limit}",
    "exclusive_maximum": "{{at}} must be < {limit}",
    "min_length": "{{at}} must have at least {limit} characters",
    "max_length": "{{at}} must have at most {limit} characters",
    "min_items": "{{at}} must have at least {limit} items",
    "max_items": "{{at}} must have at most {limit} items",
    "min_properties": "{{at}} must have at least {limit} members",
    "max_properties": "{{at}} must have at most {limit} members",
}
