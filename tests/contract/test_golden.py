"""The wire-format contract: fixed requests whose status and whole body are held by checked-in golden files.

Any change to an error body (a member, a kind, a pointer, a reason, a ``ctx`` parameter) fails here. When the
change is meant, regenerate with ``LAKEHOUSE_UPDATE_GOLDEN=1 pytest tests/contract`` and change docs/wire-format.md
in the same commit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from lakehouse.app import create_app
from lakehouse.core import Lakehouse
from lakehouse.server.problems import PROBLEM_SCHEMA
from lakehouse.validation.report import KINDS
from tests.asgi import AppClient
from tests.conftest import make_settings
from tests.contract.cases import CASES, ORDER, Case

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LAKEHOUSE_UPDATE_GOLDEN") == "1"
VOLATILE = {"request_id", "duration_ms"}  # differ on every run: compared by presence only
PROBLEM = jsonschema_rs.validator_for(PROBLEM_SCHEMA, offline=True)


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (f"<{k}>" if k in VOLATILE and v is not None else _normalize(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    """One server for every case, with what the cases name: order@1, legacy@1 (retired), row@1; a small body
    limit and batch limit so the 413s are cheap to reach."""
    settings = make_settings(
        tmp_path_factory.mktemp("contract"), server={"max_body_bytes": 64 * 1024}, validation={"max_batch": 100}
    )
    lakehouse = Lakehouse(settings)
    lakehouse.schemas.register("order", ORDER, description="An order")
    lakehouse.schemas.register("legacy", {"type": "object"})
    lakehouse.schemas.retire("legacy", 1)
    lakehouse.schemas.register("row", {"type": "object", "required": ["id"], "properties": {"id": {"minimum": 1}}})
    client = AppClient(create_app(settings, lakehouse=lakehouse), lakehouse=lakehouse)
    yield client
    client.close()
    lakehouse.close()


def _send(client: AppClient, case: Case) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"params": case.params, "headers": case.headers}
    if case.content is not None:
        kwargs["content"] = case.content
    else:
        kwargs["json"] = case.json
    response = client.request(case.method, case.path, **kwargs)
    return response.status_code, response.json()


def test_there_are_enough_cases_and_each_has_a_golden_file() -> None:
    assert len(CASES) >= 30
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
    if not UPDATE:
        assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(names), "a golden file is missing or stale"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_matches_its_golden_file(contract: AppClient, case: Case) -> None:
    status, body = _send(contract, case)
    if status >= 400:
        errors = [f"{e.instance_path}: {e.message}" for e in PROBLEM.iter_errors(body)]
        assert not errors, f"{case.name}: the body breaks problem.schema.json: {errors}"
    got = {"status": status, "body": _normalize(body)}
    path = GOLDEN / f"{case.name}.json"
    if UPDATE:
        path.write_text(json.dumps({"request": _request(case), **got}, indent=2, ensure_ascii=False) + "\n")
    golden = json.loads(path.read_text())
    assert got == {"status": golden["status"], "body": golden["body"]}, f"{case.name} drifted from {path.name}"


def _request(case: Case) -> dict[str, Any]:
    out: dict[str, Any] = {"method": case.method, "path": case.path}
    if case.params:
        out["params"] = case.params
    if case.content is not None:
        text = case.content.decode()
        out["content"] = text if len(text) < 300 else text[:120] + f"... ({len(case.content)} bytes)"
    else:
        out["json"] = case.json
    return out


def test_every_kind_has_a_golden_case() -> None:
    """Each validation kind, and each problem a validation route answers, is in some golden body."""
    seen: set[str] = set()
    for path in GOLDEN.glob("*.json"):
        body = json.loads(path.read_text())["body"]
        if isinstance(body, dict) and "type" in body and "errors" in body:
            seen.add(body["type"].rsplit(":", 1)[1])
            seen.update(item["kind"] for item in body["errors"])
    wanted = set(KINDS) - {"invalid_value"}  # the fallback for a rule the validator adds later: nothing reaches it
    wanted |= {
        "invalid_payload",
        "invalid_schema",
        "unresolvable_ref",
        "schema_not_found",
        "schema_retired",
        "breaking_change",
        "invalid_json",
        "payload_too_large",
        "batch_too_large",
        "validation_failed",
        "invalid_name",
    }
    assert wanted <= seen, f"no golden case shows {sorted(wanted - seen)}"
