"""Validating payloads: a schema named (``"order"``, ``"order@3"``) or given inline, one payload or a batch.

:class:`Validation` resolves the schema (the registry for a name: 404 ``schema_not_found``, 410 ``schema_retired``;
the compile cache for both) and answers :class:`Verdict` objects; :meth:`Verdict.problem` is the 422
``invalid_payload`` error the HTTP API answers for an invalid one. For a hot loop in-process, take a
:class:`BoundValidator` once (``lakehouse.validation.validator("order")``) and call it per payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lakehouse.errors import BatchTooLarge, ErrorItem, InvalidPayload, SchemaNotFound, SchemaRetired
from lakehouse.validation.compiler import CompiledSchema, SchemaCache
from lakehouse.validation.model import SchemaVersion
from lakehouse.validation.registry import SchemaRegistry, parse_ref

SchemaSpec = str | dict[str, Any] | bool


@dataclass(frozen=True)
class Verdict:
    """One payload's result: ``valid`` and, when not, every error item (up to ``max_errors``)."""

    valid: bool
    errors: list[ErrorItem] = field(default_factory=list)
    index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"valid": self.valid}
        if self.index is not None:
            body = {"index": self.index, **body}
        if not self.valid:
            body["errors"] = [e.to_dict() for e in self.errors]
        return body


@dataclass(frozen=True)
class BatchVerdict:
    """A batch's results, in payload order, and the counts."""

    results: list[Verdict]
    schema: dict[str, Any] | None = None

    @property
    def valid(self) -> bool:
        return all(r.valid for r in self.results)

    @property
    def valid_count(self) -> int:
        return sum(1 for r in self.results if r.valid)

    @property
    def invalid_count(self) -> int:
        return len(self.results) - self.valid_count

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "schema": self.schema,
            "count": len(self.results),
            "valid_count": self.valid_count,
            "invalid_count": self.invalid_count,
            "results": [r.to_dict() for r in self.results],
        }

    def problem(self, label: str) -> InvalidPayload:
        """The 422 ``invalid_payload`` error: every invalid payload's items, each with its ``index``."""
        items = [
            ErrorItem(e.kind, e.reason, e.field, e.pointer, {**e.extra, "index": r.index})
            for r in self.results
            if not r.valid
            for e in r.errors
        ]
        detail = f"{self.invalid_count} of {len(self.results)} payload(s) do not match {label} ({len(items)} error(s))"
        return InvalidPayload(detail, errors=items)


def _label(info: dict[str, Any] | None) -> str:
    return f"{info['name']}@{info['version']}" if info else "the inline schema"


@dataclass(frozen=True)
class BoundValidator:
    """One compiled schema, resolved once: ``validate(payload)`` and ``is_valid(payload)`` touch no store."""

    compiled: CompiledSchema
    schema: dict[str, Any] | None
    max_errors: int

    def is_valid(self, payload: Any) -> bool:
        return self.compiled.is_valid(payload)

    def validate(self, payload: Any, *, max_errors: int | None = None, index: int | None = None) -> Verdict:
        errors = self.compiled.errors(payload, max_errors or self.max_errors)
        return Verdict(not errors, errors, index)

    def problem(self, verdict: Verdict) -> InvalidPayload:
        """The 422 ``invalid_payload`` error for an invalid verdict."""
        count = len(verdict.errors)
        first = verdict.errors[0].reason if count == 1 else f"{count} error(s)"
        if count >= self.max_errors > 1:
            first = f"the first {count} error(s) (max_errors)"
        return InvalidPayload(f"the payload does not match {_label(self.schema)}: {first}", errors=verdict.errors)


class Validation:
    """Validate payloads against registered or inline schemas."""

    def __init__(self, registry: SchemaRegistry, cache: SchemaCache, *, max_errors: int, max_batch: int) -> None:
        self.registry = registry
        self.cache = cache
        self.max_errors = max_errors
        self.max_batch = max_batch

    def resolve(self, schema: SchemaSpec) -> tuple[dict[str, Any] | None, CompiledSchema]:
        """(``{"name", "version"}`` or None for an inline schema, the compiled schema)."""
        if isinstance(schema, str):
            name, version = parse_ref(schema)
            try:
                found: SchemaVersion = self.registry.get(name, version)
            except (SchemaNotFound, SchemaRetired) as exc:  # the request names it in its schema member
                raise type(exc)(exc.detail, field="schema") from exc
            if found.retired_at is not None:
                raise SchemaRetired(
                    f"schema {found.ref} is retired; validate against a live version (GET /v1/schemas/{name})",
                    field="schema",
                )
            return {"name": found.name, "version": found.version}, self.cache.get(found.schema_, found.fingerprint)
        return None, self.cache.get(schema)

    def validator(self, schema: SchemaSpec, *, max_errors: int | None = None) -> BoundValidator:
        info, compiled = self.resolve(schema)
        return BoundValidator(compiled, info, max_errors or self.max_errors)

    def validate(self, schema: SchemaSpec, payload: Any, *, max_errors: int | None = None) -> Verdict:
        return self.validator(schema, max_errors=max_errors).validate(payload)

    def validate_many(
        self, schema: SchemaSpec, payloads: Sequence[Any], *, max_errors: int | None = None
    ) -> BatchVerdict:
        """Each payload's verdict; 413 ``batch_too_large`` past ``validation.max_batch`` payloads."""
        if len(payloads) > self.max_batch:
            raise BatchTooLarge(
                f"{len(payloads)} payloads in one batch; at most {self.max_batch} (validation.max_batch)",
                field="payloads",
            )
        bound = self.validator(schema, max_errors=max_errors)
        compiled, limit = bound.compiled, bound.max_errors
        results = []
        for index, payload in enumerate(payloads):
            errors = compiled.errors(payload, limit)  # one is_valid for a valid payload, the full walk otherwise
            results.append(Verdict(not errors, errors, index))
        return BatchVerdict(results, bound.schema)

    def label(self, info: dict[str, Any] | None) -> str:
        return _label(info)
