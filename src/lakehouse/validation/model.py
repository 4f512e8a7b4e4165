"""The validation library's wire models: registering a schema, validating payloads, and what the registry answers.

Requests: ``RegisterSchema``, ``ValidateRequest``. Answers: ``SchemaVersion`` (one registered version),
``RegisteredSchema`` (a version and whether ``register`` made it), ``SchemaSummary`` (a name in the list),
``SchemaVersions``, ``Valid`` and ``BatchValid``. An invalid payload is never an answer: it is the 422
``invalid_payload`` problem (docs/wire-format.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, JsonValue

from lakehouse.tables.names import DATASET_PATTERN
from lakehouse.wire import Answer, WireModel, documented

SchemaDocument = dict[str, JsonValue] | bool
#: a schema's name (else 400 ``invalid_name``)
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$"


class SchemaVersion(Answer):
    """One registered version of a named schema."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    schema_: JsonValue = Field(alias="schema", description="The JSON Schema document as registered.")
    draft: str = Field(description="The JSON Schema draft it is read as.")
    fingerprint: str = Field(description="SHA-256 of the canonical document: equal documents, equal fingerprints.")
    description: str | None
    created_at: datetime
    retired_at: datetime | None = None
    breaking_changes: list[dict[str, JsonValue]] = Field(
        default_factory=list, description="What breaks payloads valid under the version before (forced)."
    )

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


class RegisteredSchema(SchemaVersion):
    created: bool = Field(description="False: the newest live version was identical, and is answered (200).")


class SchemaSummary(Answer):
    name: str
    versions: int
    latest_version: int | None = Field(description="The newest live version (None when every one is retired).")
    live_versions: list[int]
    description: str | None
    created_at: datetime
    updated_at: datetime


class SchemaVersions(Answer):
    items: list[SchemaVersion]
    next: str | None = None


class SchemaRef(Answer):
    name: str
    version: int


class Valid(Answer):
    valid: Literal[True]
    schema_: SchemaRef | None = Field(alias="schema", description="The registered version used (None: inline).")


class BatchItem(Answer):
    index: int
    valid: bool


class BatchValid(Answer):
    valid: bool
    schema_: SchemaRef | None = Field(alias="schema", description="The registered version used (None: inline).")
    count: int
    valid_count: int
    invalid_count: int
    results: list[BatchItem]


class RegisterSchema(WireModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "order", "schema": {"type": "object", "required": ["id"]}, "description": "An order"}]
        }
    )

    name: Annotated[str, documented(NAME_PATTERN)] = Field(
        description="Letters, digits, '_', '.', '-'; starts with a letter; at most 128."
    )
    schema_: SchemaDocument | None = Field(
        None, alias="schema", description="The JSON Schema (2020-12; 2019-09 and draft-07 by `$schema`)."
    )
    from_dataset: Annotated[str, documented(DATASET_PATTERN)] | None = Field(
        None,
        description="Or: register the JSON Schema of this dataset's columns (GET /v1/datasets/{name}/schema.json).",
    )
    description: str | None = Field(None, max_length=4000)
    force: bool = Field(False, description="Register even when the new version breaks the previous one.")


class ValidateRequest(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"schema": "order", "payload": {"id": 1}}]})

    schema_: str | SchemaDocument = Field(
        alias="schema", description='A registered schema ("name" or "name@version"), or a schema inline.'
    )
    payload: JsonValue = Field(None, description="The payload to validate.")
    payloads: list[JsonValue] | None = Field(None, description="Or a batch of payloads, each validated.")
    max_errors: int | None = Field(None, ge=1, le=10_000, description="Error items per payload (default: a setting).")
