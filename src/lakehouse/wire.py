"""The wire models' base: what every request body, query and answer of the API is built from.

``WireModel`` is a request: strict (JSON ``"3"`` is not 3, ``true`` is not 1), closed (an unknown field is refused)
and checked whole. Built in-process with bad values it raises ``RequestValidationFailed`` with the same kinds and
pointers a route answers; FastAPI validates route bodies with the same schema and ``error_items`` turns its errors
into the one problem shape. ``Answer`` is what a route returns and the client reads back.

Shared types: ``Time`` (ISO 8601 on the wire, an aware UTC ``datetime`` in Python), ``NotBlank`` (a string with a
non-space character). ``refuse(message, field)`` is a rule across fields that names the field at fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError
from pydantic._internal._model_construction import ModelMetaclass
from pydantic_core import ErrorDetails, PydanticCustomError

from lakehouse.errors import ErrorItem, RequestValidationFailed
from lakehouse.jsonpointer import location
from lakehouse.times import as_utc

__all__ = [
    "Answer",
    "NotBlank",
    "Time",
    "WireModel",
    "error_items",
    "invalid",
    "omitted",
    "refuse",
]

# pydantic error types -> stable wire kinds (docs/wire-format.md)
_KINDS = {
    "missing": "required",
    "extra_forbidden": "additional_properties",
    "string_too_short": "min_length",
    "string_too_long": "max_length",
    "too_short": "min_items",
    "too_long": "max_items",
    "greater_than": "minimum",
    "greater_than_equal": "minimum",
    "less_than": "maximum",
    "less_than_equal": "maximum",
    "literal_error": "enum",
    "enum": "enum",
    "string_pattern_mismatch": "pattern",
    "validation_failed": "validation_failed",
}
_SOURCES = ("body", "query", "path", "header", "cookie")


def kind_of(pydantic_type: str) -> str:
    """The documented kind of a pydantic error type."""
    if pydantic_type in _KINDS:
        return _KINDS[pydantic_type]
    if pydantic_type.endswith(("_type", "_parsing")) or pydantic_type in ("model_attributes_type", "dict_type"):
        return "type"
    return "invalid_value"


def error_items(
    errors: Iterable[ErrorDetails], prefix: Sequence[str | int] = (), *, sourced: bool = False
) -> list[ErrorItem]:
    """pydantic's (or, ``sourced``, FastAPI's) errors as error items: the kind, the dotted field and the JSON Pointer
    (the leading ``body``/``query``/... of a route's location dropped), pydantic's message as the reason."""
    items = []
    for err in errors:
        loc = list(err.get("loc", ()))
        if sourced and loc and loc[0] in _SOURCES:
            loc = loc[1:]
        ctx = err.get("ctx") or {}
        if isinstance(ctx.get("field"), str):  # a rule across fields names the one at fault (``refuse``)
            loc.append(ctx["field"])
        field, pointer = location([p for p in loc if isinstance(p, str | int)], prefix)
        items.append(ErrorItem(kind=kind_of(str(err.get("type"))), field=field, pointer=pointer, reason=err["msg"]))
    return items


def invalid(exc: ValidationError, prefix: Sequence[str | int] = ()) -> RequestValidationFailed:
    """``exc`` as the 422 a route answers."""
    items = error_items(exc.errors(include_url=False), prefix)
    detail = items[0].reason if len(items) == 1 else f"{len(items)} problem(s) in the request"
    return RequestValidationFailed(detail, errors=items)


def refuse(message: str, field: str | None = None) -> PydanticCustomError:
    """The error of a rule across fields (raise it from a model validator), naming the field at fault."""
    return PydanticCustomError("validation_failed", message, {"field": field} if field else None)


class _Checked(ModelMetaclass):
    """Building a request in Python (``AddMemory(...)``) raises ``RequestValidationFailed`` rather than pydantic's
    error. Only the direct call is wrapped: pydantic's own validation (a route's body, a nested model) never calls
    it, so nested errors keep their whole location."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            raise invalid(exc) from None


class WireModel(BaseModel, metaclass=_Checked):
    """A request: strict, closed, checked whole. Bad values raise ``RequestValidationFailed`` in-process too."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @classmethod
    def checked(cls, data: Mapping[str, Any]) -> Self:
        """``data`` (parsed from text: a CLI's flags, a file) as this request, or ``RequestValidationFailed``."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise invalid(exc) from None


class Answer(BaseModel):
    """What a route returns (and the client reads back): every field typed, extra fields kept for newer servers."""

    model_config = ConfigDict(extra="allow", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)


def _is_none(value: object) -> bool:
    return value is None


def omitted(description: str | None = None, *, alias: str | None = None) -> Any:
    """A field that defaults to ``None`` and is left out of the JSON while it is ``None``."""
    return Field(None, exclude_if=_is_none, description=description, alias=alias)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("string_too_short", "the text is blank", {"min_length": 1})
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")  # text that is a time starts with a date (not "0.5", a timestamp)


def _a_time(value: object) -> object:
    """Only text (ISO 8601) or a datetime is a time: not a number of seconds, as pydantic's lax mode would take."""
    if not isinstance(value, str | datetime) or (isinstance(value, str) and not _ISO_DATE.match(value)):
        raise PydanticCustomError("datetime_type", "Input should be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z")
    return value


#: an ISO 8601 time on the wire (a naive one is UTC), an aware UTC datetime in Python
Time = Annotated[datetime, Strict(False), BeforeValidator(_a_time), AfterValidator(as_utc)]
#: what the pattern of a text field says: no NUL anywhere (every JSON body, 400 ``nul_character``) and one
#: character that is not a space (else ``min_length``); the checks themselves are the body rules and ``_not_blank``
TEXT_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
#: a string with at least one non-space character
NotBlank = Annotated[str, AfterValidator(_not_blank), Field(json_schema_extra={"pattern": TEXT_PATTERN})]


def documented(pattern: str) -> Any:
    """A ``Field`` whose JSON Schema states ``pattern`` while the library keeps checking the value itself, with the
    documented kind (``invalid_name``, ``invalid_bucket``, ...): the document tells clients and generators what is
    accepted, the error stays the one docs/wire-format.md lists."""
    return Field(json_schema_extra={"pattern": pattern})
