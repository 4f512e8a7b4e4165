"""The exception hierarchy and the one problem+json body every error becomes.

Every error a caller can see is a :class:`LakehouseError`. Each class carries the HTTP ``status`` it maps to and a
stable machine ``kind`` (documented in docs/wire-format.md); the HTTP client raises the same classes, looked up by
``kind``, so in-process and remote callers catch the same exceptions::

    LakehouseError (500 internal)
    ├── BadRequest (400 bad_request)
    │   ├── InvalidJson (400 invalid_json)
    │   ├── InvalidKey (400 invalid_key)
    │   ├── InvalidBucket (400 invalid_bucket)
    │   ├── InvalidCursor (400 invalid_cursor)
    │   ├── InvalidScope (400 invalid_scope)
    │   ├── InvalidName (400 invalid_name)
    │   ├── EmptyBody (400 empty_body)
    │   ├── MalformedInput (400 malformed_input)
    │   ├── LoneSurrogate (400 lone_surrogate)
    │   ├── NulCharacter (400 nul_character)
    │   ├── NestingTooDeep (400 nesting_too_deep)
    │   ├── NonFiniteNumber (400 non_finite_number)
    │   ├── TruncatedInput (400 truncated_input)
    │   └── InvalidSql (400 invalid_sql)
    ├── Unauthenticated (401 unauthenticated)
    ├── Forbidden (403 forbidden)
    │   ├── ForbiddenStatement (403 forbidden_statement)
    │   ├── ForbiddenFunction (403 forbidden_function)
    │   ├── PermissionDenied (403 permission_denied)
    │   └── TenantForbidden (403 tenant_forbidden)
    ├── NotFound (404 not_found)
    │   ├── RouteNotFound (404 route_not_found)
    │   ├── BlobNotFound (404 blob_not_found)
    │   ├── ApiKeyNotFound (404 api_key_not_found)
    │   ├── DatasetNotFound (404 dataset_not_found)
    │   ├── CollectionNotFound (404 collection_not_found)
    │   ├── PointNotFound (404 point_not_found)
    │   ├── MemoryNotFound (404 memory_not_found)
    │   ├── StepNotFound (404 step_not_found)
    │   ├── QueryNotFound (404 query_not_found)
    │   ├── TraceNotFound (404 trace_not_found)
    │   ├── SessionNotFound (404 session_not_found)
    │   └── SchemaNotFound (404 schema_not_found)
    ├── MethodNotAllowed (405 method_not_allowed)
    ├── Conflict (409 conflict)
    │   ├── ApiKeyExists (409 api_key_exists)
    │   ├── KeyConflict (409 key_conflict)
    │   ├── DatasetExists (409 dataset_exists)
    │   ├── CollectionExists (409 collection_exists)
    │   ├── SchemaMismatch (409 schema_mismatch)
    │   ├── QueryCancelled (409 query_cancelled)
    │   ├── QueryIdInUse (409 query_id_in_use)
    │   ├── IdempotencyConflict (409 idempotency_conflict)
    │   ├── IdempotencyInProgress (409 idempotency_in_progress)
    │   ├── VersionConflict (409 version_conflict)
    │   ├── RevisionCycle (409 revision_cycle)
    │   ├── MemorySuperseded (409 memory_superseded)
    │   ├── MemoryRetired (409 memory_retired)
    │   ├── MemoryNotRetired (409 memory_not_retired)
    │   ├── MemoryExists (409 memory_exists)
    │   ├── PathwayEnded (409 pathway_ended)
    │   ├── BreakingChange (409 breaking_change)
    │   └── RestoreTargetNotEmpty (409 restore_target_not_empty)
    ├── Gone (410 gone)
    │   └── SchemaRetired (410 schema_retired)
    ├── NotAcceptable (406 not_acceptable)
    ├── QueryTimeout (408 query_timeout)
    ├── PreconditionFailed (412 precondition_failed)
    ├── PayloadTooLarge (413 payload_too_large)
    │   └── BatchTooLarge (413 batch_too_large)
    ├── UnsupportedMediaType (415 unsupported_media_type)
    ├── RangeNotSatisfiable (416 range_not_satisfiable)
    ├── RequestValidationFailed (422 validation_failed)
    │   ├── IntegerOutOfRange (422 integer_out_of_range)
    │   ├── MixedTypes (422 mixed_types)
    │   ├── InvalidColumnType (422 invalid_column_type)
    │   ├── ConversionFailed (422 conversion_failed)
    │   ├── DuplicateKey (422 duplicate_key)
    │   ├── QueryFailed (422 query_failed)
    │   ├── InvalidFilter (422 invalid_filter)
    │   ├── InvalidPoint (422 invalid_point)
    │   ├── EmptyBatch (422 empty_batch)
    │   ├── InvalidText (422 invalid_text)
    │   ├── UnknownModel (422 unknown_model)
    │   ├── InvalidSchema (422 invalid_schema)
    │   ├── UnresolvableRef (422 unresolvable_ref)
    │   ├── InvalidPayload (422 invalid_payload)
    │   └── BackupInvalid (422 backup_invalid)
    ├── EmbedderFailed (502 embedder_failed)
    ├── StoreUnavailable (503 store_unavailable)
    │   ├── EmbedderUnavailable (503 embedder_unavailable)
    │   ├── Overloaded (503 overloaded)
    │   └── ServiceUnavailable (503 service_unavailable)
    └── ConfigError (not an HTTP error: the process refuses to start, exit 2)

:func:`problem_body` is the only place that builds the wire body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, ClassVar

from lakehouse.jsonpointer import field_to_pointer

__all__ = [
    "ApiKeyExists",
    "ApiKeyNotFound",
    "BackupInvalid",
    "BadRequest",
    "BatchTooLarge",
    "BlobNotFound",
    "BreakingChange",
    "CollectionExists",
    "CollectionNotFound",
    "ConfigError",
    "Conflict",
    "ConversionFailed",
    "DatasetExists",
    "DatasetNotFound",
    "DuplicateKey",
    "EmbedderFailed",
    "EmbedderUnavailable",
    "EmptyBatch",
    "EmptyBody",
    "ErrorItem",
    "Forbidden",
    "ForbiddenFunction",
    "ForbiddenStatement",
    "Gone",
    "IdempotencyConflict",
    "IdempotencyInProgress",
    "IntegerOutOfRange",
    "InvalidBucket",
    "InvalidColumnType",
    "InvalidCursor",
    "InvalidFilter",
    "InvalidJson",
    "InvalidKey",
    "InvalidName",
    "InvalidPayload",
    "InvalidPoint",
    "InvalidSchema",
    "InvalidScope",
    "InvalidSql",
    "InvalidText",
    "KeyConflict",
    "LakehouseError",
    "LoneSurrogate",
    "MalformedInput",
    "MemoryExists",
    "MemoryNotFound",
    "MemoryNotRetired",
    "MemoryRetired",
    "MemorySuperseded",
    "MethodNotAllowed",
    "MixedTypes",
    "NestingTooDeep",
    "NonFiniteNumber",
    "NotAcceptable",
    "NotFound",
    "NulCharacter",
    "Overloaded",
    "PathwayEnded",
    "PayloadTooLarge",
    "PermissionDenied",
    "PointNotFound",
    "PreconditionFailed",
    "QueryCancelled",
    "QueryFailed",
    "QueryIdInUse",
    "QueryNotFound",
    "QueryTimeout",
    "RangeNotSatisfiable",
    "RequestValidationFailed",
    "RestoreTargetNotEmpty",
    "RevisionCycle",
    "RouteNotFound",
    "SchemaMismatch",
    "SchemaNotFound",
    "SchemaRetired",
    "ServiceUnavailable",
    "SessionNotFound",
    "StepNotFound",
    "StoreUnavailable",
    "TenantForbidden",
    "TraceNotFound",
    "TruncatedInput",
    "Unauthenticated",
    "UnknownModel",
    "UnresolvableRef",
    "UnsupportedMediaType",
    "VersionConflict",
    "error_class_for_kind",
    "problem_body",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:lakehouse:problem:"


@dataclass(frozen=True)
class ErrorItem:
    """One problem inside an error body: a stable ``kind``, where it is, and human text."""

    kind: str
    reason: str
    field: str | None = None
    pointer: str | None = None
    extra: dict[str, Any] = dc_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        pointer = self.pointer if self.pointer is not None else field_to_pointer(self.field)
        body: dict[str, Any] = {
            "kind": self.kind,
            "field": self.field,
            "pointer": pointer,
            "reason": self.reason,
        }
        body.update(self.extra)
        return body


class LakehouseError(Exception):
    """Base of every error Lakehouse raises on purpose."""

    status: ClassVar[int] = 500
    kind: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal server error"
    #: the request id of the failed request, when the error came over HTTP
    request_id: str | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[ErrorItem] | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)
        self.errors = errors if errors else [ErrorItem(kind=self.kind, field=field, reason=self.detail)]
        self.headers = headers or {}


class BadRequest(LakehouseError):
    status, kind, title = 400, "bad_request", "Bad request"


class InvalidJson(BadRequest):
    kind, title = "invalid_json", "Body is not valid JSON"


class InvalidKey(BadRequest):
    kind, title = "invalid_key", "Invalid blob key"


class InvalidBucket(BadRequest):
    kind, title = "invalid_bucket", "Invalid bucket name"


class InvalidCursor(BadRequest):
    kind, title = "invalid_cursor", "Invalid page cursor"


class InvalidScope(BadRequest):
    kind, title = "invalid_scope", "Invalid API key scope"


class InvalidName(BadRequest):
    kind, title = "invalid_name", "Invalid name"


class EmptyBody(BadRequest):
    kind, title = "empty_body", "The request body is empty"


class MalformedInput(BadRequest):
    kind, title = "malformed_input", "The body cannot be parsed in its declared format"


class LoneSurrogate(BadRequest):
    kind, title = "lone_surrogate", "A string holds a lone surrogate"


class NulCharacter(BadRequest):
    kind, title = "nul_character", "A string holds a NUL character"


class NestingTooDeep(BadRequest):
    kind, title = "nesting_too_deep", "The input nests too deep"


class NonFiniteNumber(BadRequest):
    kind, title = "non_finite_number", "A number is not finite"


class TruncatedInput(BadRequest):
    kind, title = "truncated_input", "The body ends before its format's end marker"


class InvalidSql(BadRequest):
    kind, title = "invalid_sql", "The SQL does not parse or names something that does not exist"


class Unauthenticated(LakehouseError):
    status, kind, title = 401, "unauthenticated", "Authentication required"


class Forbidden(LakehouseError):
    status, kind, title = 403, "forbidden", "Forbidden"


class ForbiddenStatement(Forbidden):
    kind, title = "forbidden_statement", "Only one read statement is allowed"


class ForbiddenFunction(Forbidden):
    kind, title = "forbidden_function", "The SQL calls a function the sandbox does not allow"


class PermissionDenied(Forbidden):
    kind, title = "permission_denied", "The query reaches outside the lake"


class TenantForbidden(Forbidden):
    kind, title = "tenant_forbidden", "The API key is bound to another tenant"


class NotFound(LakehouseError):
    status, kind, title = 404, "not_found", "Not found"


class RouteNotFound(NotFound):
    kind, title = "route_not_found", "No such route"


class BlobNotFound(NotFound):
    kind, title = "blob_not_found", "Blob not found"


class ApiKeyNotFound(NotFound):
    kind, title = "api_key_not_found", "API key not found"


class DatasetNotFound(NotFound):
    kind, title = "dataset_not_found", "Dataset not found"


class CollectionNotFound(NotFound):
    kind, title = "collection_not_found", "No such collection"


class PointNotFound(NotFound):
    kind, title = "point_not_found", "No such point in the collection"


class MemoryNotFound(NotFound):
    kind, title = "memory_not_found", "No such memory in this scope"


class StepNotFound(NotFound):
    kind, title = "step_not_found", "No such step in the pathway"


class QueryNotFound(NotFound):
    kind, title = "query_not_found", "No such running query"


class TraceNotFound(NotFound):
    kind, title = "trace_not_found", "No such trace"


class SessionNotFound(NotFound):
    kind, title = "session_not_found", "No such session"


class SchemaNotFound(NotFound):
    kind, title = "schema_not_found", "No such schema"


class MethodNotAllowed(LakehouseError):
    status, kind, title = 405, "method_not_allowed", "Method not allowed"


class Conflict(LakehouseError):
    status, kind, title = 409, "conflict", "Conflict"


class RestoreTargetNotEmpty(Conflict):
    kind, title = "restore_target_not_empty", "A restore goes into an empty lakehouse only"


class ApiKeyExists(Conflict):
    kind, title = "api_key_exists", "An active API key with this name exists"


class KeyConflict(Conflict):
    kind, title = "key_conflict", "Blob key conflicts with an existing key"


class DatasetExists(Conflict):
    kind, title = "dataset_exists", "A dataset with this name exists"


class CollectionExists(Conflict):
    kind, title = "collection_exists", "A collection with this name exists"


class SchemaMismatch(Conflict):
    kind, title = "schema_mismatch", "The data does not fit the dataset's schema"


class NotAcceptable(LakehouseError):
    status, kind, title = 406, "not_acceptable", "No acceptable result format"


class QueryTimeout(LakehouseError):
    status, kind, title = 408, "query_timeout", "The query ran past its time limit"


class QueryCancelled(Conflict):
    kind, title = "query_cancelled", "The query was cancelled"


class QueryIdInUse(Conflict):
    kind, title = "query_id_in_use", "A running query already has this id"


class IdempotencyConflict(Conflict):
    kind, title = "idempotency_conflict", "This Idempotency-Key was used for a different request"


class IdempotencyInProgress(Conflict):
    kind, title = "idempotency_in_progress", "A request with this Idempotency-Key is still running"


class VersionConflict(Conflict):
    kind, title = "version_conflict", "The memory is at another version"


class RevisionCycle(Conflict):
    kind, title = "revision_cycle", "The revision would make the supersession graph cyclic"


class MemorySuperseded(Conflict):
    kind, title = "memory_superseded", "The memory is superseded"


class MemoryRetired(Conflict):
    kind, title = "memory_retired", "The memory is retired"


class MemoryNotRetired(Conflict):
    kind, title = "memory_not_retired", "The memory is not retired"


class MemoryExists(Conflict):
    kind, title = "memory_exists", "An active memory with this content exists in the scope"


class PathwayEnded(Conflict):
    kind, title = "pathway_ended", "The pathway's run has ended"


class BreakingChange(Conflict):
    kind, title = "breaking_change", "The new schema version breaks the previous one"


class Gone(LakehouseError):
    status, kind, title = 410, "gone", "Gone"


class SchemaRetired(Gone):
    kind, title = "schema_retired", "The schema version is retired"


class PreconditionFailed(LakehouseError):
    status, kind, title = 412, "precondition_failed", "Precondition failed"


class PayloadTooLarge(LakehouseError):
    status, kind, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(LakehouseError):
    status, kind, title = 415, "unsupported_media_type", "Unsupported media type"


class BatchTooLarge(PayloadTooLarge):
    kind, title = "batch_too_large", "Too many items in one request"


class RangeNotSatisfiable(LakehouseError):
    status, kind, title = 416, "range_not_satisfiable", "Range not satisfiable"


class RequestValidationFailed(LakehouseError):
    status, kind, title = 422, "validation_failed", "Request validation failed"


class IntegerOutOfRange(RequestValidationFailed):
    kind, title = "integer_out_of_range", "An integer is out of range"


class MixedTypes(RequestValidationFailed):
    kind, title = "mixed_types", "A column holds values of different types"


class InvalidColumnType(RequestValidationFailed):
    kind, title = "invalid_column_type", "Invalid column type"


class ConversionFailed(RequestValidationFailed):
    kind, title = "conversion_failed", "A value does not convert to its column's type"


class DuplicateKey(RequestValidationFailed):
    kind, title = "duplicate_key", "The body repeats a key"


class QueryFailed(RequestValidationFailed):
    kind, title = "query_failed", "The query failed while running"


class InvalidFilter(RequestValidationFailed):
    kind, title = "invalid_filter", "The filter is not valid"


class InvalidPoint(RequestValidationFailed):
    kind, title = "invalid_point", "A point cannot be stored"


class EmptyBatch(RequestValidationFailed):
    kind, title = "empty_batch", "The request has nothing to work on"


class InvalidText(RequestValidationFailed):
    kind, title = "invalid_text", "A text cannot be embedded"


class UnknownModel(RequestValidationFailed):
    kind, title = "unknown_model", "No such embedding model here"


class InvalidSchema(RequestValidationFailed):
    kind, title = "invalid_schema", "The schema is not valid JSON Schema"


class UnresolvableRef(RequestValidationFailed):
    kind, title = "unresolvable_ref", "A $ref of the schema cannot be resolved"


class InvalidPayload(RequestValidationFailed):
    kind, title = "invalid_payload", "The payload does not match the schema"


class BackupInvalid(RequestValidationFailed):
    kind, title = "backup_invalid", "The backup is incomplete, corrupted or of another version"


class EmbedderFailed(LakehouseError):
    status, kind, title = 502, "embedder_failed", "The embedding provider failed"


class StoreUnavailable(LakehouseError):
    status, kind, title = 503, "store_unavailable", "A store is unavailable"


class EmbedderUnavailable(StoreUnavailable):
    kind, title = "embedder_unavailable", "No embedding provider is set up"


class Overloaded(StoreUnavailable):
    kind, title = "overloaded", "Too much work is queued; retry after a pause"


class ServiceUnavailable(StoreUnavailable):
    kind, title = "service_unavailable", "The daemon that serves this route is not answering"


class ConfigError(LakehouseError):
    """Settings are invalid; the process refuses to start (the CLI exits with status 2)."""

    status, kind, title = 500, "config_error", "Invalid settings"


def _all_subclasses(cls: type[LakehouseError]) -> list[type[LakehouseError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


def error_class_for_kind(kind: str, status: int) -> type[LakehouseError]:
    """The exception class for a wire ``kind`` (falling back to the class for the HTTP status)."""
    by_kind = {c.kind: c for c in _all_subclasses(LakehouseError)}
    if kind in by_kind:
        return by_kind[kind]
    by_status = {c.status: c for c in reversed(_all_subclasses(LakehouseError)) if c is not ConfigError}
    return by_status.get(status, LakehouseError)


def problem_body(
    *,
    status: int,
    title: str,
    detail: str,
    errors: list[ErrorItem],
    request_id: str | None,
    kind: str,
    host_details: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The RFC 9457 problem+json body. The one function that builds it. Each of ``host_details`` (text, placeholder)
    found in the detail or a reason is replaced by its placeholder."""

    def clean(text: str) -> str:
        for private, placeholder in host_details:
            text = text.replace(private, placeholder)
        return text

    items = [e.to_dict() for e in errors]
    for item in items:
        item["reason"] = clean(str(item["reason"]))
    return {
        "type": PROBLEM_TYPE_PREFIX + kind,
        "title": title,
        "status": status,
        "detail": clean(detail),
        "request_id": request_id,
        "errors": items,
    }
