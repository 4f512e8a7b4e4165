"""The validation smokes of ``lakehouse verify``: each registers a schema under a fresh name and retires it after."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from lakehouse.verify.chain import Target, _any_url, check, check_problem, smoke

ORDER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "qty", "email"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^o-[0-9]+$"},
        "qty": {"type": "integer", "minimum": 1, "maximum": 100},
        "email": {"type": "string", "format": "email"},
        "status": {"enum": ["new", "paid", "shipped"]},
        "lines": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["sku"]}},
    },
}
GOOD = {"id": "o-1", "qty": 2, "email": "ann@example.com", "status": "new", "lines": [{"sku": "a"}]}
BAD = {"id": "x", "qty": 0, "email": "not-an-email", "status": "lost", "lines": [{}], "extra": 1}


def _register(c: httpx.Client, schema: dict[str, Any] = ORDER) -> str:
    name = f"verify_{uuid.uuid4().hex[:12]}"
    r = c.post("/v1/schemas", json={"name": name, "schema": schema, "description": "lakehouse verify"})
    check(r.status_code == 201 and r.json()["version"] == 1, f"register -> {r.status_code}: {r.text[:200]}")
    return name


def _retire_all(c: httpx.Client, name: str) -> None:
    for version in c.get(f"/v1/schemas/{name}/versions").json()["items"]:
        c.delete(f"/v1/schemas/{name}/versions/{version['version']}")


@smoke("validation: register, valid payload, one error item per broken rule, batch")
def _validation_kinds(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        name = _register(c)
        ok = c.post("/v1/validate", json={"schema": name, "payload": GOOD})
        check(ok.status_code == 200 and ok.json()["valid"] is True, f"a valid payload -> {ok.text[:200]}")
        bad = c.post("/v1/validate", json={"schema": f"{name}@1", "payload": BAD})
        check_problem(bad, 422, "invalid_payload")
        got = {(i["kind"], i["pointer"]) for i in bad.json()["errors"]}
        wanted = {
            ("pattern", "/id"),
            ("minimum", "/qty"),
            ("format", "/email"),
            ("enum", "/status"),
            ("required", "/lines/0/sku"),
            ("additional_properties", "/extra"),
        }
        check(got == wanted, f"error items {sorted(got)}, wanted {sorted(wanted)}")
        batch = c.post("/v1/validate", json={"schema": name, "payloads": [GOOD, BAD, GOOD]})
        check_problem(batch, 422, "invalid_payload")
        check({i["index"] for i in batch.json()["errors"]} == {1}, f"batch items: {batch.text[:300]}")
        fine = c.post("/v1/validate", json={"schema": name, "payloads": [GOOD] * 3}).json()
        check(fine["valid_count"] == 3 and fine["invalid_count"] == 0, f"a valid batch: {fine}")
        check_problem(
            c.post("/v1/validate", json={"schema": "verify_no_such_schema", "payload": {}}), 404, "schema_not_found"
        )
        _retire_all(c, name)
    return "200 for a valid payload; pattern, minimum, format, enum, required, additional_properties items; batch"


@smoke("validation: a breaking change refused (409), forced; a retired version refused (410)")
def _validation_versions(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        name = _register(c)
        narrower = {**ORDER, "required": [*ORDER["required"], "status"]}
        refused = c.post("/v1/schemas", json={"name": name, "schema": narrower})
        check_problem(refused, 409, "breaking_change")
        changes = [i["ctx"]["change"] for i in refused.json()["errors"]]
        check(changes == ["required_added"], f"breaking changes {changes}")
        forced = c.post("/v1/schemas", json={"name": name, "schema": narrower, "force": True})
        check(forced.status_code == 201 and forced.json()["version"] == 2, f"forced -> {forced.text[:200]}")
        c.delete(f"/v1/schemas/{name}/versions/1")
        check_problem(c.post("/v1/validate", json={"schema": f"{name}@1", "payload": GOOD}), 410, "schema_retired")
        latest = c.post("/v1/validate", json={"schema": name, "payload": GOOD}).json()
        check(latest["schema"] == {"name": name, "version": 2}, f"latest after retiring 1: {latest}")
        _retire_all(c, name)
    return "409 breaking_change (required_added); forced as v2; v1 retired: 410 schema_retired; latest is v2"


@smoke("validation: ingest with a schema, on_error=skip writes the rows that pass")
def _validation_ingest(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        row = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 1}}}
        name = _register(c, row)
        dataset = f"verify_{uuid.uuid4().hex[:12]}"
        body = b'{"id": 1}\n{"id": 0}\n{"name": "x"}\n{"id": 4}\n'
        headers = {"content-type": "application/x-ndjson"}
        path = f"/v1/datasets/{dataset}/ingest"
        refused = c.post(path, params={"create": "true", "schema": name}, content=body, headers=headers)
        check_problem(refused, 422, "invalid_payload")
        check([i["row"] for i in refused.json()["errors"]] == [2, 3], f"rejected rows: {refused.text[:300]}")
        done = c.post(
            path, params={"create": "true", "schema": name, "on_error": "skip"}, content=body, headers=headers
        )
        answer = done.json()
        check(
            done.status_code == 200 and answer["rows_written"] == 2 and answer["rows_rejected"] == 2,
            f"skip -> {done.text[:300]}",
        )
        rows = c.post("/v1/sql", json={"sql": f"SELECT id FROM {dataset} ORDER BY id"}).json()["rows"]  # noqa: S608
        check(rows == [[1], [4]], f"rows written: {rows}")
        c.delete(f"/v1/datasets/{dataset}")
        _retire_all(c, name)
    return "reject: 422 with rows 2 and 3; skip: 2 written, 2 rejected; SQL reads back 1 and 4"
