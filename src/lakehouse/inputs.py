"""What every input must be before any store sees it: text that is valid Unicode, JSON that is finite and shallow.

A lone surrogate (``"\\ud800"``) is valid JSON but not Unicode: SQLite and PostgreSQL cannot store it as text and
DuckDB cannot read it back, so one such value would poison every later read of its table. A NUL cannot be held by
PostgreSQL text. ``NaN``, ``Infinity`` and numbers past a double (``1e400``) are not JSON. Nesting past
``MAX_DEPTH`` is refused before any parser of ours or a store's recurses into it. Integers must fit 64 bits
(signed, or unsigned for positive values).

``loads`` parses a JSON request body under these rules: the C parser first, then a walk of the parsed value only
when a cheap scan of the bytes says one of the rules could be broken (so a large plain body costs one parse).
Every refusal is a 400 (422 for an integer out of range) naming the JSON Pointer of the value at fault.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from lakehouse import jsonpointer
from lakehouse.errors import (
    ErrorItem,
    IntegerOutOfRange,
    InvalidJson,
    LakehouseError,
    LoneSurrogate,
    NestingTooDeep,
    NonFiniteNumber,
    NulCharacter,
    TruncatedInput,
)

__all__ = [
    "ARROW_EOS",
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "InvalidJson",
    "check_arrow_end",
    "check_json_file",
    "check_no_nul",
    "check_text",
    "check_value",
    "loads",
]

MAX_DEPTH = 64
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
# What could break a rule, searched in the raw bytes (all in C): a surrogate escape, a NUL escape, a long digit run
# (an integer past 64 bits or a float past a double), a large exponent.
_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F]|\\u0000|\d{19,}|[eE][+-]?\d{3,}")


def _fail(cls: type[LakehouseError], reason: str, field: str, path: tuple[str | int, ...]) -> LakehouseError:
    """``field`` is where the JSON is (``body``, or a dotted name within it); ``path`` where inside it."""
    within = field and field != "body"
    dotted = jsonpointer.dotted([field, *path] if within else list(path)) or field
    base = jsonpointer.field_to_pointer(field) if within else ""
    item = ErrorItem(kind=cls.kind, field=dotted, pointer=base + jsonpointer.pointer(path), reason=reason)
    return cls(f"{dotted}: {reason}", errors=[item])


def _bad_text(value: str, nul: bool) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds a lone surrogate (not Unicode text)"
    if not nul and "\x00" in value:
        return "holds a NUL character, which the store cannot keep"
    return None


def check_text(value: str, field: str, *, nul: bool = False) -> str:
    """``value`` when it is valid Unicode text (and has no NUL unless ``nul``); else 400 naming ``field``."""
    problem = _bad_text(value, nul)
    if problem is not None:
        raise _fail(LoneSurrogate if "surrogate" in problem else NulCharacter, problem, field, ())
    return value


def check_value(value: Any, field: str = "body", max_depth: int = MAX_DEPTH, *, nul: bool = False) -> Any:
    """Walk a parsed JSON value: depth, text (keys too; NUL only when ``nul``), finite numbers, 64-bit integers.
    Returns ``value``."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise _fail(NestingTooDeep, f"nests deeper than {max_depth} levels", field, path)
            if isinstance(item, dict):
                for key, child in item.items():
                    problem = _bad_text(key, nul=False)
                    if problem is not None:
                        kind = LoneSurrogate if "surrogate" in problem else NulCharacter
                        raise _fail(kind, f"a key {problem}", field, (*path, key.encode("utf-8", "replace").decode()))
                    stack.append((child, depth + 1, (*path, key)))
            else:
                stack.extend((child, depth + 1, (*path, i)) for i, child in enumerate(item))
        elif isinstance(item, str):
            problem = _bad_text(item, nul=nul)
            if problem is not None:
                raise _fail(LoneSurrogate if "surrogate" in problem else NulCharacter, problem, field, path)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                raise _fail(IntegerOutOfRange, "is an integer outside 64 bits", field, path)
        elif isinstance(item, float) and not math.isfinite(item):
            raise _fail(NonFiniteNumber, "is not a finite number", field, path)
    return value


class _Constant(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


def loads(data: bytes | str, field: str = "body", max_depth: int = MAX_DEPTH, *, nul: bool = False) -> Any:
    """Parse one JSON document under the rules above; InvalidJson when it does not parse."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except _Constant as exc:
        raise _fail(NonFiniteNumber, f"{exc.name} is not a JSON number", field, ()) from None
    except RecursionError:
        raise _fail(NestingTooDeep, f"nests deeper than {max_depth} levels", field, ()) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson(f"{field} is not valid JSON: {str(exc)[:200]}", field=field) from None
    if _SUSPECT.search(raw) or raw.count(b"[") + raw.count(b"{") > max_depth:
        check_value(value, field, max_depth, nul=nul)
    return value


# A line with more opening brackets than MAX_DEPTH could nest too deep; NaN/Infinity are tokens JSON does not have.
_SUSPECT_LINE = re.compile(rb"\\u[dD][89a-fA-F]|\\u0000|\d{19,}|[eE][+-]?\d{3,}|NaN|Infinity")
_CHUNK = 8 << 20


def _deep_line(chunk: bytes, max_depth: int) -> bool:
    return chunk.count(b"[") + chunk.count(b"{") > max_depth and any(
        line.count(b"[") + line.count(b"{") > max_depth for line in chunk.split(b"\n")
    )


def check_json_file(path: Any, lines: bool, max_depth: int = MAX_DEPTH) -> None:
    """Check an NDJSON (``lines``) or JSON file under the rules of ``loads`` before a reader of the lake sees it.

    The bytes are scanned in C, a chunk at a time; only a chunk where a rule could be broken is parsed, line by line,
    so the error names the line (``line`` in the error item, 1-based). A NUL in a string is refused too: the lake's
    catalog keeps column statistics as text, and a NUL in them breaks its later reads."""
    with open(path, "rb") as handle:  # noqa: PTH123 (a path or a str)
        if not lines:
            head = handle.read(_CHUNK)
            rest = handle.read(1)
            if not rest and not _SUSPECT_LINE.search(head) and not _deep_line(head, max_depth):
                return
            handle.seek(0)
            _check_document(handle.read(), max_depth)
            return
        number = 0
        carry = b""
        while True:
            block = handle.read(_CHUNK)
            data = carry + block
            if not block:
                complete, carry = data, b""
            else:
                cut = data.rfind(b"\n") + 1
                complete, carry = data[:cut], data[cut:]
            if _SUSPECT_LINE.search(complete) or _deep_line(complete, max_depth):
                for offset, line in enumerate(complete.split(b"\n")):
                    if line.strip():
                        _check_line(line, number + offset + 1, max_depth)
            number += complete.count(b"\n")
            if not block:
                return


def _check_line(line: bytes, number: int, max_depth: int) -> None:
    try:
        loads(line, "body", max_depth)
    except InvalidJson:  # not JSON at all: the lake's reader reports it with its own words
        return
    except LakehouseError as exc:
        for item in exc.errors:
            item.extra["line"] = number
        exc.detail = f"line {number}: {exc.detail}"
        raise


def _check_document(data: bytes, max_depth: int) -> None:
    try:
        loads(data, "body", max_depth)
    except InvalidJson:
        return


def check_no_nul(path: Any) -> None:
    """Refuse a text file (CSV) with a NUL byte, naming its line: the lake cannot keep NUL in text."""
    number = 0
    with open(path, "rb") as handle:  # noqa: PTH123 (a path or a str)
        while block := handle.read(_CHUNK):
            at = block.find(b"\x00")
            if at >= 0:
                line = number + block.count(b"\n", 0, at) + 1
                item = ErrorItem(kind="nul_character", field="body", reason="a NUL byte", extra={"line": line})
                raise NulCharacter(f"line {line}: the body holds a NUL byte, which the lake cannot keep", errors=[item])
            number += block.count(b"\n")


ARROW_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # an Arrow IPC stream's end: continuation marker, zero length


def check_arrow_end(tail: bytes) -> None:
    """Refuse an Arrow IPC stream whose last bytes (``tail``, at least 8) are not its end-of-stream marker: one cut
    short between two batches would otherwise read as complete, with the rest of its rows missing."""
    if not tail.endswith(ARROW_EOS):
        item = ErrorItem(kind="truncated_input", field="body", reason="no end-of-stream marker at the end")
        raise TruncatedInput("the Arrow IPC stream ends without its end-of-stream marker", errors=[item])
