"""The fixed requests of the wire-format contract: every validation kind, every validation problem, and the ingest
forms. Each case's answer is held by a golden file in ``golden/`` (tests/contract/test_golden.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

D7 = "http://json-schema.org/draft-07/schema#"
ORDER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "qty", "customer"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^o-[0-9]+$"},
        "qty": {"type": "integer", "minimum": 1},
        "customer": {
            "type": "object",
            "required": ["email"],
            "properties": {"email": {"type": "string", "format": "email"}, "name": {"type": "string"}},
        },
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
    },
    "$defs": {"item": {"type": "object", "required": ["sku"], "properties": {"qty": {"type": "integer"}}}},
}
GOOD_ORDER = {"id": "o-1", "qty": 2, "customer": {"email": "ann@example.com"}, "items": [{"sku": "a", "qty": 1}]}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _one(name: str, schema: Any, payload: Any, **extra: Any) -> Case:
    return Case(name, "POST", "/v1/validate", json={"schema": schema, "payload": payload, **extra})


CASES: list[Case] = [
    Case("valid_payload", "POST", "/v1/validate", json={"schema": "order", "payload": GOOD_ORDER}),
    Case("valid_batch", "POST", "/v1/validate", json={"schema": "order@1", "payloads": [GOOD_ORDER, GOOD_ORDER]}),
    _one("type", {"type": "integer"}, "7"),
    _one("required", "order", {"id": "o-1", "qty": 1}),
    _one("dependent_required", {"dependentRequired": {"card": ["expiry"]}}, {"card": "4111"}),
    _one("additional_properties", "order", {**GOOD_ORDER, "coupon": "X", "note": "hi"}),
    _one("unevaluated_properties", {"properties": {"a": {}}, "unevaluatedProperties": False}, {"a": 1, "b": 2}),
    _one("enum", {"properties": {"status": {"enum": ["new", "paid"]}}}, {"status": "lost"}),
    _one("const", {"properties": {"version": {"const": 2}}}, {"version": 1}),
    _one("format", "order", {**GOOD_ORDER, "customer": {"email": "not-an-email"}}),
    _one("minimum", "order", {**GOOD_ORDER, "qty": 0}),
    _one("maximum", {"maximum": 5}, 9),
    _one("exclusive_minimum", {"exclusiveMinimum": 0}, 0),
    _one("exclusive_maximum", {"exclusiveMaximum": 1}, 1),
    _one("multiple_of", {"multipleOf": 0.5}, 0.7),
    _one("min_length", {"minLength": 3}, "ab"),
    _one("max_length", {"maxLength": 3}, "abcd"),
    _one("pattern", "order", {**GOOD_ORDER, "id": "x-1"}),
    _one("min_items", {"minItems": 1}, []),
    _one("max_items", {"maxItems": 1}, [1, 2]),
    _one("unique_items", {"uniqueItems": True}, [1, 2, 1]),
    _one("additional_items", {"prefixItems": [{"type": "string"}], "items": False}, ["a", "b"]),
    _one("additional_items_draft7", {"$schema": D7, "items": [{}], "additionalItems": False}, [1, 2, 3]),
    _one("unevaluated_items", {"prefixItems": [{}], "unevaluatedItems": False}, [1, 2]),
    _one("contains", {"contains": {"type": "string"}}, [1, 2]),
    _one("min_contains", {"contains": {"type": "string"}, "minContains": 2}, ["a", 1]),
    _one("max_contains", {"contains": {"type": "string"}, "maxContains": 1}, ["a", "b"]),
    _one("min_properties", {"minProperties": 1}, {}),
    _one("max_properties", {"maxProperties": 1}, {"a": 1, "b": 2}),
    _one("property_names", {"propertyNames": {"pattern": "^[a-z_]+$"}}, {"Bad-Name": 1}),
    _one(
        "one_of_best_branch",
        {
            "oneOf": [
                {"properties": {"kind": {"const": "card"}, "number": {"type": "string"}}, "required": ["number"]},
                {"properties": {"kind": {"const": "iban"}, "iban": {"minLength": 15}}, "required": ["iban"]},
            ]
        },
        {"kind": "iban", "iban": "DE12"},
    ),
    _one("one_of_many_matched", {"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 3),
    _one("any_of_none_close", {"anyOf": [{"type": "string"}, {"type": "integer"}]}, [1]),
    _one(
        "any_of_best_branch",
        {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
            ]
        },
        {"id": "7"},
    ),
    _one("not", {"not": {"type": "null"}}, None),
    _one("false_schema", {"properties": {"legacy": False}}, {"legacy": 1}),
    _one("content_encoding", {"$schema": D7, "contentEncoding": "base64"}, "!!!"),
    _one("content_media_type", {"$schema": D7, "contentMediaType": "application/json"}, "{not json"),
    _one(
        "many_errors_nested",
        "order",
        {"id": 1, "qty": "two", "customer": {}, "items": [{"sku": "a"}, {"qty": 1}, {"sku": "c", "qty": "x"}]},
    ),
    _one("max_errors", "order", {"id": 1, "qty": "two", "customer": {}, "extra": True}, max_errors=2),
    Case(
        "batch_invalid",
        "POST",
        "/v1/validate",
        json={"schema": "order", "payloads": [GOOD_ORDER, {**GOOD_ORDER, "qty": 0}, GOOD_ORDER, {"id": "o-4"}]},
    ),
    _one("schema_not_found", "no_such_schema", {}),
    _one("schema_version_not_found", "order@9", {}),
    _one("schema_retired", "legacy@1", {}),
    _one("schema_ref_invalid", "order@latest", {}),
    _one("invalid_schema", {"type": "integer", "minimum": "5", "required": "id"}, 1),
    _one("unresolvable_ref_remote", {"$ref": "https://example.com/order.json"}, {}),
    _one("unresolvable_ref_local", {"properties": {"a": {"$ref": "#/$defs/missing"}}}, {}),
    _one("unknown_draft", {"$schema": "http://json-schema.org/draft-04/schema#"}, {}),
    Case("payload_and_payloads", "POST", "/v1/validate", json={"schema": "order", "payload": {}, "payloads": []}),
    Case(
        "invalid_json",
        "POST",
        "/v1/validate",
        content=b'{"schema": "order", ',
        headers={"content-type": "application/json"},
    ),
    Case(
        "payload_too_large",
        "POST",
        "/v1/validate",
        content=b'{"schema": "order", "payloads": [' + b"0," * 40_000 + b"0]}",
        headers={"content-type": "application/json"},
    ),
    Case("batch_too_large", "POST", "/v1/validate", json={"schema": {}, "payloads": [0] * 101}),
    Case(
        "breaking_change",
        "POST",
        "/v1/schemas",
        json={
            "name": "order",
            "schema": {
                **ORDER,
                "required": [*ORDER["required"], "items"],
                "properties": {
                    **{k: v for k, v in ORDER["properties"].items() if k != "customer"},
                    "qty": {"type": "string"},
                },
            },
        },
    ),
    Case("register_invalid_schema", "POST", "/v1/schemas", json={"name": "broken", "schema": {"type": 5}}),
    Case("register_invalid_name", "POST", "/v1/schemas", json={"name": "9 lives", "schema": {}}),
    Case(
        "ingest_reject",
        "POST",
        "/v1/datasets/contract_orders/ingest",
        content=b'{"id": 1}\n{"id": 0}\n{"name": "x"}\n',
        params={"create": "true", "schema": "row"},
        headers={"content-type": "application/x-ndjson"},
    ),
    Case(
        "ingest_skip",
        "POST",
        "/v1/datasets/contract_orders/ingest",
        content=b'{"id": 1}\n{"id": 0}\n{"name": "x"}\n',
        params={"create": "true", "schema": "row", "on_error": "skip"},
        headers={"content-type": "application/x-ndjson"},
    ),
    Case(
        "ingest_on_error_without_schema",
        "POST",
        "/v1/datasets/contract_orders/ingest",
        content=b'{"id": 1}\n',
        params={"on_error": "skip"},
        headers={"content-type": "application/x-ndjson"},
    ),
]
