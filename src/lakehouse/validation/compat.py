"""Breaking changes between two versions of a schema: what a payload valid under the old one may now fail.

Walked together from both roots (following local ``$ref``), property by property and into ``items``:

- ``property_removed``: a property the old version described is gone;
- ``required_added``: a property is newly required;
- ``type_narrowed``: a type the old version allowed is no longer allowed (``integer`` fits in ``number``);
- ``enum_shrunk`` / ``enum_added`` / ``const_added``: fewer values are allowed than before;
- ``additional_properties_closed``: members the old version let through are now refused;
- ``minimum_raised``, ``maximum_lowered``, ``min_length_raised``, ``max_length_lowered``, ``min_items_raised``,
  ``max_items_lowered``, ``pattern_changed``, ``format_added``: a bound is tighter than before.

Each becomes one ``breaking_change`` error item pointing into the new schema (``/schema/properties/qty/type``) with
``ctx.change`` naming the change. The walk is a conservative syntactic comparison, not a proof: it names the changes
people make by hand, and ``force=true`` registers the version regardless.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lakehouse.errors import ErrorItem
from lakehouse.jsonpointer import location, unescape

Path = list[str | int]

_BOUNDS = (  # keyword, change name, True when a larger new value is tighter
    ("minimum", "minimum_raised", True),
    ("exclusiveMinimum", "minimum_raised", True),
    ("maximum", "maximum_lowered", False),
    ("exclusiveMaximum", "maximum_lowered", False),
    ("minLength", "min_length_raised", True),
    ("maxLength", "max_length_lowered", False),
    ("minItems", "min_items_raised", True),
    ("maxItems", "max_items_lowered", False),
)


def _resolve(node: Any, root: Any) -> Any:
    """Follow local ``$ref`` chains (``#/...``) of ``node`` inside ``root``."""
    for _ in range(32):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#")):
            return node
        target: Any = root
        for raw in node["$ref"][1:].split("/")[1:]:
            part = unescape(raw)
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                return node
        node = target
    return node


def _types(node: dict[str, Any]) -> set[str] | None:
    declared = node.get("type")
    if declared is None:
        return None
    return {declared} if isinstance(declared, str) else {str(t) for t in declared}


def _allows(types: set[str], wanted: str) -> bool:
    return wanted in types or (wanted == "integer" and "number" in types)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _change(path: Path, change: str, reason: str, **ctx: Any) -> ErrorItem:
    field, pointer = location(path, ("schema",))
    return ErrorItem(
        kind="breaking_change", field=field, pointer=pointer, reason=reason, extra={"ctx": {"change": change, **ctx}}
    )


def _walk(
    old: Any, new: Any, old_root: Any, new_root: Any, path: Path, seen: set[tuple[int, int]]
) -> Iterator[ErrorItem]:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if (id(old), id(new)) in seen:
        return
    seen.add((id(old), id(new)))
    if new is False and old is not False:
        yield _change(path, "type_narrowed", "the new version allows no value here", **{"from": "any", "to": []})
        return
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    old_types, new_types = _types(old), _types(new)
    if new_types is not None:
        lost = sorted(t for t in (old_types or {"any"}) if not _allows(new_types, t))
        if lost:
            yield _change(
                [*path, "type"],
                "type_narrowed",
                f"type {', '.join(lost)} is no longer allowed",
                **{"from": sorted(old_types or {"any"}), "to": sorted(new_types)},
            )
    if "enum" in new and isinstance(new["enum"], list):
        if "enum" in old and isinstance(old["enum"], list):
            kept = {_key(v) for v in new["enum"]}
            removed = [v for v in old["enum"] if _key(v) not in kept]
            if removed:
                yield _change(
                    [*path, "enum"], "enum_shrunk", f"{len(removed)} value(s) are no longer allowed", removed=removed
                )
        elif "const" not in old:
            yield _change([*path, "enum"], "enum_added", "only the listed values are allowed now")
    if "const" in new and "const" not in old:
        if not (
            "enum" in old and isinstance(old["enum"], list) and [_key(v) for v in old["enum"]] == [_key(new["const"])]
        ):
            yield _change([*path, "const"], "const_added", "only one value is allowed now")
    elif "const" in new and _key(new["const"]) != _key(old["const"]):
        yield _change([*path, "const"], "const_added", "the one allowed value changed")
    for keyword, change, larger_is_tighter in _BOUNDS:
        if not isinstance(new.get(keyword), int | float) or isinstance(new.get(keyword), bool):
            continue
        before = old.get(keyword)
        if not isinstance(before, int | float) or (
            new[keyword] > before if larger_is_tighter else new[keyword] < before
        ):
            yield _change(
                [*path, keyword],
                change,
                f"{keyword} is now {new[keyword]} (was {before})",
                limit=new[keyword],
                previous=before,
            )
    if isinstance(new.get("pattern"), str) and new.get("pattern") != old.get("pattern"):
        yield _change([*path, "pattern"], "pattern_changed", "the pattern changed", pattern=new["pattern"])
    if isinstance(new.get("format"), str) and new.get("format") != old.get("format"):
        yield _change([*path, "format"], "format_added", f"values must now be {new['format']}", format=new["format"])
    required_before = set(old.get("required") or []) if isinstance(old.get("required"), list) else set()
    if isinstance(new.get("required"), list):
        for name in new["required"]:
            if name not in required_before:
                yield _change([*path, "required"], "required_added", f"{name} is now required", property=name)
    old_props: dict[str, Any] = old["properties"] if isinstance(old.get("properties"), dict) else {}
    new_props: dict[str, Any] = new["properties"] if isinstance(new.get("properties"), dict) else {}
    for name, old_sub in old_props.items():
        if name not in new_props:
            yield _change([*path, "properties"], "property_removed", f"property {name} was removed", property=name)
        else:
            yield from _walk(old_sub, new_props[name], old_root, new_root, [*path, "properties", name], seen)
    closed_before = old.get("additionalProperties") is False or old.get("unevaluatedProperties") is False
    if not closed_before and (new.get("additionalProperties") is False or new.get("unevaluatedProperties") is False):
        keyword = "additionalProperties" if new.get("additionalProperties") is False else "unevaluatedProperties"
        yield _change([*path, keyword], "additional_properties_closed", "members not listed are refused now")
    if "items" in old and "items" in new and not isinstance(old["items"], list) and not isinstance(new["items"], list):
        yield from _walk(old["items"], new["items"], old_root, new_root, [*path, "items"], seen)


def breaking_changes(old: Any, new: Any) -> list[ErrorItem]:
    """The breaking changes from ``old`` to ``new`` (empty when a payload valid under old stays valid)."""
    return list(_walk(old, new, old, new, [], set()))
