"""Validation: a registry of named, versioned JSON Schemas and fast, exact validation with one error format.

``registry`` stores the versions, ``compiler`` checks and compiles documents (cached), ``report`` turns validator
errors into the wire's error items, ``compat`` finds breaking changes, ``validate`` answers verdicts.
"""

from lakehouse.validation.compiler import CompiledSchema, SchemaCache, compile_schema
from lakehouse.validation.registry import Registered, SchemaRegistry, SchemaVersion
from lakehouse.validation.report import KINDS
from lakehouse.validation.validate import BatchVerdict, BoundValidator, Validation, Verdict

__all__ = [
    "KINDS",
    "BatchVerdict",
    "BoundValidator",
    "CompiledSchema",
    "Registered",
    "SchemaCache",
    "SchemaRegistry",
    "SchemaVersion",
    "Validation",
    "Verdict",
    "compile_schema",
]
