"""Breaking changes between schema versions: each change named, and widening changes let through."""

from __future__ import annotations

from typing import Any

import pytest

from lakehouse.validation.compat import breaking_changes

BASE: dict[str, Any] = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"enum": ["new", "paid", "shipped"]},
        "name": {"type": "string", "maxLength": 50},
        "qty": {"type": "integer", "minimum": 1},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
    },
    "$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string"}}}},
}


def _with(**changes: Any) -> dict[str, Any]:
    props = {**BASE["properties"], **changes.pop("properties", {})}
    return {**BASE, **changes, "properties": props}


def _changes(new: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e.extra["ctx"]["change"], e.pointer) for e in breaking_changes(BASE, new)]


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (_with(required=["id", "name"]), [("required_added", "/schema/required")]),
        (
            {**BASE, "properties": {k: v for k, v in BASE["properties"].items() if k != "qty"}},
            [("property_removed", "/schema/properties")],
        ),
        (_with(properties={"id": {"type": "string"}}), [("type_narrowed", "/schema/properties/id/type")]),
        (_with(properties={"status": {"enum": ["new", "paid"]}}), [("enum_shrunk", "/schema/properties/status/enum")]),
        (
            _with(properties={"name": {"type": "string", "enum": ["a"]}}),
            [("enum_added", "/schema/properties/name/enum")],
        ),
        (
            _with(properties={"qty": {"type": "integer", "minimum": 2}}),
            [("minimum_raised", "/schema/properties/qty/minimum")],
        ),
        (
            _with(properties={"name": {"type": "string", "maxLength": 10}}),
            [("max_length_lowered", "/schema/properties/name/maxLength")],
        ),
        (_with(additionalProperties=False), [("additional_properties_closed", "/schema/additionalProperties")]),
        (
            {**BASE, "$defs": {"line": {"type": "object", "properties": {"sku": {"type": "integer"}}}}},
            [("type_narrowed", "/schema/properties/lines/items/properties/sku/type")],
        ),
    ],
)
def test_each_breaking_change_is_named(new: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert _changes(new) == expected


def test_widening_changes_break_nothing() -> None:
    wider = _with(
        required=[],
        properties={
            "id": {"type": ["integer", "string"]},
            "status": {"enum": ["new", "paid", "shipped", "lost"]},
            "name": {"type": "string", "maxLength": 80},
            "qty": {"type": "number"},
            "note": {"type": "string"},
        },
    )
    assert breaking_changes(BASE, wider) == []
    assert breaking_changes(BASE, BASE) == []


def test_recursive_refs_terminate() -> None:
    tree = {
        "$defs": {
            "node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}
        },
        "$ref": "#/$defs/node",
    }
    assert breaking_changes(tree, tree) == []
