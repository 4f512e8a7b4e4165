"""JSON Schema documents checked, compiled once and cached: drafts, the meta-schema check, local references only.

A schema declares its draft with ``$schema`` (2020-12, 2019-09 or draft-07; none means 2020-12). Before it is
compiled it is validated against its draft's meta-schema, and every problem is reported (422 ``invalid_schema``,
items pointing into the request at ``/schema/...``). References resolve inside the document (``#/$defs/x``,
embedded ``$id`` resources) and the standard meta-schemas; nothing is ever fetched, so a remote ``$ref`` is 422
``unresolvable_ref``. Compiled validators (jsonschema-rs, chosen by bench/validation.py) are kept in an LRU keyed
by the document's fingerprint, so each schema version is compiled once per process.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from lakehouse.errors import ErrorItem, InvalidSchema, UnresolvableRef
from lakehouse.jsonpointer import location
from lakehouse.validation.report import Reporter

DRAFTS: dict[str, str] = {
    "https://json-schema.org/draft/2020-12/schema": "2020-12",
    "https://json-schema.org/draft/2019-09/schema": "2019-09",
    "http://json-schema.org/draft-07/schema": "draft-07",
}
DEFAULT_DRAFT = "2020-12"
_META_URI = {draft: uri for uri, draft in DRAFTS.items()}
_REFERENCE_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
_MISSING_RESOURCE = re.compile(r"Resource '([^']*)' is not present")
_MISSING_POINTER = re.compile(r"Pointer '([^']*)' does not exist")


def canonical(document: Any) -> str:
    """The document as canonical JSON (sorted keys, no spaces): what is stored and fingerprinted."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def fingerprint(document: Any) -> str:
    return hashlib.sha256(canonical(document).encode()).hexdigest()


def draft_of(document: Any, prefix: Sequence[str | int] = ("schema",)) -> str:
    """The draft a document declares; 422 ``invalid_schema`` for one this server does not validate."""
    if not isinstance(document, dict):
        if isinstance(document, bool):
            return DEFAULT_DRAFT
        field, pointer = location([], prefix)
        raise InvalidSchema(
            "a JSON Schema is an object or a boolean",
            errors=[ErrorItem(kind="type", field=field, pointer=pointer, reason="a schema is an object or a boolean")],
        )
    declared = document.get("$schema")
    if declared is None:
        return DEFAULT_DRAFT
    draft = DRAFTS.get(str(declared).rstrip("#")) if isinstance(declared, str) else None
    if draft is None:
        field, pointer = location(["$schema"], prefix)
        reason = f"$schema {declared!r} is not a draft this server validates: use 2020-12, 2019-09 or draft-07"
        raise InvalidSchema(reason, errors=[ErrorItem(kind="enum", field=field, pointer=pointer, reason=reason)])
    return draft


class _MetaValidators:
    """One meta-schema validator per draft, built on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_draft: dict[str, Any] = {}

    def __call__(self, draft: str) -> Any:
        with self._lock:
            if draft not in self._by_draft:
                uri = _META_URI[draft]
                self._by_draft[draft] = jsonschema_rs.validator_for(
                    {"$schema": uri, "$ref": uri}, validate_formats=True, offline=True
                )
            return self._by_draft[draft]


_meta = _MetaValidators()


def _references(node: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REFERENCE_KEYS and isinstance(value, str):
                yield [*path, key], value
            elif key not in ("enum", "const", "examples", "default"):
                yield from _references(value, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _references(value, [*path, index])


def _unresolvable(document: Any, message: str, prefix: Sequence[str | int]) -> UnresolvableRef:
    match = _MISSING_RESOURCE.search(message) or _MISSING_POINTER.search(message)
    target = match.group(1) if match else None
    items = []
    for path, value in _references(document, []):
        if target is not None and (value == target or value.endswith(target) or value.split("#", 1)[0] == target):
            field, pointer = location(path, prefix)
            remote = not value.startswith("#")
            reason = (
                f"$ref {value!r} is not in this document, and remote references are never fetched"
                if remote
                else f"$ref {value!r} points at nothing in this document"
            )
            items.append(
                ErrorItem(
                    kind="unresolvable_ref", field=field, pointer=pointer, reason=reason, extra={"ctx": {"ref": value}}
                )
            )
    if not items:
        field, pointer = location([], prefix)
        items.append(ErrorItem(kind="unresolvable_ref", field=field, pointer=pointer, reason=message.split("\n")[0]))
    detail = f"{len(items)} reference(s) cannot be resolved: " + ", ".join(
        str(i.extra.get("ctx", {}).get("ref", "?")) for i in items
    )
    return UnresolvableRef(detail, errors=items)


@dataclass
class CompiledSchema:
    """A checked, compiled schema: ``is_valid`` for the fast answer, ``errors`` for every error item."""

    document: Any
    draft: str
    fingerprint: str
    _validator: Any = field(repr=False)
    _reporter: Reporter = field(repr=False)

    def is_valid(self, payload: Any) -> bool:
        return bool(self._validator.is_valid(payload))

    def errors(self, payload: Any, max_errors: int = 100) -> list[ErrorItem]:
        """Every error item of ``payload`` (up to ``max_errors``); empty when it is valid."""
        if self._validator.is_valid(payload):
            return []
        return self._reporter.items(self._validator.iter_errors(payload), max_errors)


def check_document(document: Any, prefix: Sequence[str | int] = ("schema",), max_errors: int = 100) -> str:
    """Validate ``document`` against its draft's meta-schema; returns the draft or raises 422 ``invalid_schema``."""
    draft = draft_of(document, prefix)
    meta = _meta(draft)
    if not meta.is_valid(document):
        items = Reporter(None, prefix).items(meta.iter_errors(document), max_errors)
        raise InvalidSchema(f"the schema breaks the {draft} meta-schema in {len(items)} place(s)", errors=items)
    return draft


def compile_schema(document: Any, prefix: Sequence[str | int] = ("schema",)) -> CompiledSchema:
    """Check and compile ``document`` (no cache: see :class:`SchemaCache`)."""
    draft = check_document(document, prefix)
    try:
        validator = jsonschema_rs.validator_for(document, validate_formats=True, offline=True)
    except jsonschema_rs.ValidationError as exc:
        message = str(exc)
        if "not present in a registry" in message or "does not exist" in message or "base URI" in message:
            raise _unresolvable(document, message, prefix) from exc
        field, pointer = location([], prefix)
        reason = message.split("\n")[0]
        raise InvalidSchema(
            reason, errors=[ErrorItem(kind="invalid_schema", field=field, pointer=pointer, reason=reason)]
        ) from exc
    except (jsonschema_rs.ReferencingError, ValueError) as exc:
        field, pointer = location([], prefix)
        reason = str(exc).split("\n")[0]
        raise InvalidSchema(
            reason, errors=[ErrorItem(kind="invalid_schema", field=field, pointer=pointer, reason=reason)]
        ) from exc
    return CompiledSchema(document, draft, fingerprint(document), validator, Reporter(document))


class SchemaCache:
    """Compiled schemas by fingerprint, least recently used dropped past ``size``. Thread-safe."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, CompiledSchema] = OrderedDict()

    def get(self, document: Any, key: str | None = None, prefix: Sequence[str | int] = ("schema",)) -> CompiledSchema:
        key = key or fingerprint(document)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
        compiled = compile_schema(document, prefix)
        with self._lock:
            self._entries[key] = compiled
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return compiled

    def __len__(self) -> int:
        return len(self._entries)
