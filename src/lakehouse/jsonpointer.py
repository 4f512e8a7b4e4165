"""RFC 6901 JSON Pointers and the dotted field names of error items, one encoding for the whole project.

``pointer(["items", 2, "a/b"])`` is ``/items/2/a~1b``; ``location`` gives the dotted name beside it
(``items[2].a/b``) and ``field_to_pointer`` goes back from a dotted name. Imports nothing of the project.
"""

from __future__ import annotations

from collections.abc import Sequence


def escape(part: str | int) -> str:
    """One reference token: ``~`` as ``~0``, ``/`` as ``~1``."""
    return str(part).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer(parts: Sequence[str | int]) -> str:
    """The JSON Pointer of a path (``""`` for the whole document)."""
    return "".join("/" + escape(p) for p in parts)


def dotted(parts: Sequence[str | int]) -> str | None:
    """The dotted name of a path: ``["items", 2, "qty"]`` -> ``items[2].qty`` (``None`` for the whole document)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or None


def location(parts: Sequence[str | int], prefix: Sequence[str | int] = ()) -> tuple[str | None, str]:
    """(dotted field, JSON pointer) of a path: ``["items", 2, "qty"]`` -> ``("items[2].qty", "/items/2/qty")``."""
    whole = (*prefix, *parts)
    return dotted(whole), pointer(whole)


def field_to_pointer(field_name: str | None) -> str:
    """Turn a dotted field name (``items[2].qty``) into an RFC 6901 JSON Pointer (``/items/2/qty``)."""
    if not field_name:
        return ""
    parts: list[str] = []
    for name_and_rest in field_name.split("."):
        name, _, rest = name_and_rest.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            parts.append(index)
            rest = rest.removeprefix("[")
    return pointer(parts)
