"""A dataset's columns as a JSON Schema (2020-12) for one row: what ``GET /v1/datasets/{name}/schema.json`` answers.

Types come from the table's Arrow schema (so nested lists and structs map exactly): integers with their range,
floats and decimals as numbers, dates and times as strings with their ``format``, lists as arrays, structs as
objects, maps as objects of their value type. A nullable column also allows ``null``; a NOT NULL column is
``required``. Members other than the columns are refused (``additionalProperties: false``), since the row is what
the table holds; a schema registered from it keeps ingest from growing new columns by accident.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

_INT_RANGES = {
    8: (-(2**7), 2**7 - 1),
    16: (-(2**15), 2**15 - 1),
    32: (-(2**31), 2**31 - 1),
}
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?$"


def arrow_type_schema(dtype: pa.DataType) -> dict[str, Any]:
    """The JSON Schema of one value of ``dtype`` (null not included)."""
    if pa.types.is_boolean(dtype):
        return {"type": "boolean"}
    if pa.types.is_integer(dtype):
        out: dict[str, Any] = {"type": "integer"}
        width = dtype.bit_width
        if pa.types.is_unsigned_integer(dtype):
            out["minimum"] = 0
            if width < 64:
                out["maximum"] = 2**width - 1
        elif width in _INT_RANGES:
            out["minimum"], out["maximum"] = _INT_RANGES[width]
        return out
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return {"type": "number"}
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return {"type": "string"}
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_fixed_size_binary(dtype):
        return {"type": "string", "contentEncoding": "base64"}
    if pa.types.is_date(dtype):
        return {"type": "string", "format": "date"}
    if pa.types.is_timestamp(dtype):
        if dtype.tz is not None:
            return {"type": "string", "format": "date-time"}
        return {"type": "string", "pattern": _TIMESTAMP}  # no offset: RFC 3339's date-time would refuse it
    if pa.types.is_time(dtype):
        return {"type": "string", "pattern": r"^\d{2}:\d{2}:\d{2}(\.\d+)?$"}
    if pa.types.is_duration(dtype) or pa.types.is_interval(dtype):
        return {"type": "string"}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        items = _nullable(arrow_type_schema(dtype.value_type), dtype.value_field.nullable)
        array: dict[str, Any] = {"type": "array", "items": items}
        if pa.types.is_fixed_size_list(dtype):
            array["minItems"] = array["maxItems"] = dtype.list_size
        return array
    if pa.types.is_struct(dtype):
        fields = [dtype.field(i) for i in range(dtype.num_fields)]
        return {
            "type": "object",
            "properties": {f.name: _nullable(arrow_type_schema(f.type), f.nullable) for f in fields},
            "additionalProperties": False,
        }
    if pa.types.is_map(dtype):
        return {"type": "object", "additionalProperties": _nullable(arrow_type_schema(dtype.item_type), True)}
    if pa.types.is_dictionary(dtype):
        return arrow_type_schema(dtype.value_type)
    return {}  # a type JSON has no counterpart for (e.g. a union): any value


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable:
        return schema
    if "type" in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return schema


def row_schema(title: str, arrow_schema: pa.Schema, not_null: set[str], description: str | None) -> dict[str, Any]:
    """The JSON Schema of one row of a table with ``arrow_schema``."""
    document: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": {f.name: _nullable(arrow_type_schema(f.type), f.name not in not_null) for f in arrow_schema},
        "additionalProperties": False,
    }
    if description:
        document["description"] = description
    required = [f.name for f in arrow_schema if f.name in not_null]
    if required:
        document["required"] = required
    return document
