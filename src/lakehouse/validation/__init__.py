"""Validation: a registry of named, versioned JSON Schemas and fast, exact validation with one error format.

``registry`` stores the versions, ``compiler`` checks and compiles documents (cached), ``report`` turns validator
errors into the wire's error items, ``compat`` finds breaking changes, ``validate`` answers verdicts.
"""

from lakehouse.validation.compiler import CompiledSchema, SchemaCache, compile_schema
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
from lakehouse.validation.registry import Registered, SchemaRegistry
from lakehouse.validation.report import KINDS
from lakehouse.validation.validate import BatchVerdict, BoundValidator, Validation, Verdict

__all__ = [
    "KINDS",
    "BatchValid",
    "BatchVerdict",
    "BoundValidator",
    "CompiledSchema",
    "RegisterSchema",
    "Registered",
    "RegisteredSchema",
    "SchemaCache",
    "SchemaRegistry",
    "SchemaSummary",
    "SchemaVersion",
    "SchemaVersions",
    "Valid",
    "ValidateRequest",
    "Validation",
    "Verdict",
    "compile_schema",
]
