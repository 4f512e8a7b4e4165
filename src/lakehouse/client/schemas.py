"""Client methods for /v1/schemas (the registry) and /v1/validate."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from lakehouse.client._http import Transport, idempotency
from lakehouse.errors import InvalidPayload
from lakehouse.validation.model import (
    BatchValid,
    RegisteredSchema,
    RegisterSchema,
    SchemaSummary,
    SchemaVersion,
    SchemaVersions,
    Valid,
    ValidateRequest,
)
from lakehouse.validation.validate import BatchVerdict, Verdict

ROUTES = {
    ("POST", "/v1/schemas"),
    ("GET", "/v1/schemas"),
    ("GET", "/v1/schemas/{name}"),
    ("GET", "/v1/schemas/{name}/versions"),
    ("GET", "/v1/schemas/{name}/versions/{version}"),
    ("DELETE", "/v1/schemas/{name}/versions/{version}"),
    ("POST", "/v1/validate"),
    ("GET", "/v1/datasets/{name}/schema.json"),
}


class Schemas:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def register(
        self,
        name: str,
        schema: dict[str, Any] | bool | None = None,
        *,
        from_dataset: str | None = None,
        description: str | None = None,
        force: bool = False,
        idempotency_key: str | None = None,
    ) -> RegisteredSchema:
        """Register ``schema`` (or the row schema of ``from_dataset``) as the next version of ``name``. Raises
        ``BreakingChange`` (409) unless ``force``; the answer's ``created`` is False when the newest live version
        is the same document."""
        given: dict[str, Any] = {"name": name, "description": description, "force": force}
        given.update({"schema": schema} if from_dataset is None else {"from_dataset": from_dataset})
        request = RegisterSchema.checked(given)
        return self._t.call("POST", "/v1/schemas", RegisteredSchema, body=request, headers=idempotency(idempotency_key))

    def list(self, limit: int = 100) -> Iterator[SchemaSummary]:
        return self._t.pages_of("/v1/schemas", {"limit": limit}, SchemaSummary)

    def get(self, name: str, version: int | None = None) -> SchemaVersion:
        """The newest live version of ``name``, or ``version``."""
        path = f"/v1/schemas/{quote(name, safe='')}"
        return self._t.call("GET", path if version is None else f"{path}/versions/{int(version)}", SchemaVersion)

    def versions(self, name: str) -> builtins.list[SchemaVersion]:
        return self._t.call("GET", f"/v1/schemas/{quote(name, safe='')}/versions", SchemaVersions).items

    def retire(self, name: str, version: int, *, idempotency_key: str | None = None) -> SchemaVersion:
        path = f"/v1/schemas/{quote(name, safe='')}/versions/{int(version)}"
        return self._t.call("DELETE", path, SchemaVersion, headers=idempotency(idempotency_key))

    def dataset_schema(self, name: str) -> dict[str, Any]:
        """The JSON Schema of one row of dataset ``name`` (a JSON Schema document: any JSON object)."""
        result: dict[str, Any] = self._t.json("GET", f"/v1/datasets/{quote(name, safe='')}/schema.json")
        return result


def _verdicts(error: InvalidPayload, count: int) -> list[Verdict]:
    by_index: dict[int, list[Any]] = {}
    for item in error.errors:
        extra = {k: v for k, v in item.extra.items() if k != "index"}
        by_index.setdefault(int(item.extra.get("index", 0)), []).append(
            type(item)(item.kind, item.reason, item.field, item.pointer, extra)
        )
    return [Verdict(i not in by_index, by_index.get(i, []), i) for i in range(count)]


class Validator:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def validate(self, schema: str | dict[str, Any] | bool, payload: Any, *, max_errors: int | None = None) -> Verdict:
        """The verdict on ``payload`` (an invalid one is a verdict, not an exception): as ``Lakehouse.validate``."""
        request = ValidateRequest.checked({"schema": schema, "payload": payload, "max_errors": max_errors})
        try:
            self._t.call("POST", "/v1/validate", Valid, body=request)
        except InvalidPayload as error:
            return Verdict(False, error.errors)
        return Verdict(True)

    def validate_many(
        self, schema: str | dict[str, Any] | bool, payloads: Sequence[Any], *, max_errors: int | None = None
    ) -> BatchVerdict:
        """Each payload's verdict, in order."""
        request = ValidateRequest.checked({"schema": schema, "payloads": list(payloads), "max_errors": max_errors})
        try:
            answer = self._t.call("POST", "/v1/validate", BatchValid, body=request)
        except InvalidPayload as error:
            return BatchVerdict(_verdicts(error, len(payloads)))
        used = None if answer.schema_ is None else answer.schema_.model_dump()
        return BatchVerdict([Verdict(True, [], r.index) for r in answer.results], used)
