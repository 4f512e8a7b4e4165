"""Comparing recordings: a seeded drift is reported with its path and counts while noise (timestamps, generated
ids) is not; matchers; what is always and never compared; the case file."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from lakehouse.errors import MalformedInput
from lakehouse.replay import (
    Body,
    Exchange,
    Matcher,
    RecordedRequest,
    RecordedResponse,
    compare,
    read_cases,
    write_cases,
)
from lakehouse.replay.compare import Thresholds, flatten


def _exchange(case: str, path: str, status: int, body: Any, content_type: str = "application/json") -> Exchange:
    return Exchange(
        id=case,
        request=RecordedRequest(method="GET", path=path),
        response=RecordedResponse(
            status=status,
            headers={"content-type": content_type},
            body=Body.model_validate({"json": body, "is_json": True}),
        ),
    )


def _run(seed: int, drift: bool) -> list[Exchange]:
    """200 cases on two endpoints; every run has its own timestamps and generated ids (noise); ``drift`` renames
    one field of the error items."""
    rng = random.Random(seed)
    out = []
    for i in range(200):
        if i % 4 == 0:  # a validation error
            item = {"kind": "required", "field": "id", "reason": f"missing ({rng.random()})"}
            if drift:
                item = {"kind": "required", "name": "id", "reason": item["reason"]}
            body = {
                "type": "urn:lakehouse:problem:invalid_payload",
                "status": 422,
                "detail": str(rng.random()),
                "request_id": f"{rng.getrandbits(64):016x}",
                "errors": [item],
            }
            out.append(_exchange(f"c{i}", "/v1/validate", 422, body, "application/problem+json"))
        else:
            body = {
                "id": f"{rng.getrandbits(64):016x}",
                "name": f"memory {i}",
                "created_at": f"2026-12-07T08:{rng.randint(0, 59):02d}",
            }
            out.append(_exchange(f"c{i}", f"/v1/memories/{rng.getrandbits(64):016x}", 200, body))
    return out


def test_a_drift_is_reported_with_its_path_and_counts_and_noise_is_not() -> None:
    report = compare(_run(1, False), _run(2, True), _run(3, False))
    reported = [(f.endpoint, f.field, f.raw, f.noise) for f in report.fields if f.reported]
    assert reported == [
        ("GET /v1/validate", "body.errors[*].field", 50, 0),
        ("GET /v1/validate", "body.errors[*].name", 50, 0),
    ]
    noise = {f.field for f in report.fields if not f.reported}
    assert noise == {"body.id", "body.created_at"}  # differ in every run, primary against secondary too
    assert report.endpoints == {"GET /v1/validate": 50, "GET /v1/memories/{id}": 150}
    assert report.differences == 2 and not report.ok
    field = next(f for f in report.fields if f.field == "body.errors[*].field")
    assert (field.primary, field.candidate, field.case) == ("id", None, "c0")


def test_the_same_version_twice_is_noise_only() -> None:
    report = compare(_run(1, False), _run(2, False), _run(3, False))
    assert report.ok and report.fields and not any(f.reported for f in report.fields)


def test_without_a_secondary_matchers_name_the_noise() -> None:
    assert compare(_run(1, False), _run(2, False)).differences == 2  # id and created_at
    matchers = [
        Matcher(path="body.id", kind="regex", pattern="[0-9a-f]{16}"),
        Matcher(path="body.created_at", kind="present"),
    ]
    assert compare(_run(1, False), _run(2, False), matchers=matchers).ok
    drifted = compare(_run(1, False), _run(2, True), matchers=matchers)
    assert {f.field for f in drifted.fields if f.reported} == {"body.errors[*].field", "body.errors[*].name"}


def test_tolerance_unordered_and_ignore() -> None:
    a = [_exchange("x", "/v1/sql", 200, {"score": 0.5000, "tags": ["a", "b", "c"], "took": 3})]
    b = [_exchange("x", "/v1/sql", 200, {"score": 0.5004, "tags": ["c", "a", "b"], "took": 9})]
    assert {f.field for f in compare(a, b).fields} == {"body.score", "body.tags[*]", "body.took"}
    matchers = [
        Matcher(path="body.score", kind="tolerance", tolerance=0.001),
        Matcher(path="body.tags", kind="unordered"),
        Matcher(path="body.took", kind="ignore"),
    ]
    assert compare(a, b, matchers=matchers).ok
    c = [_exchange("x", "/v1/sql", 200, {"score": 0.6, "tags": ["a", "b", "d"], "took": 1})]
    assert {f.field for f in compare(a, c, matchers=matchers).fields} == {"body.score", "body.tags[*]"}


def test_status_content_type_and_kinds_are_always_compared_and_reasons_never() -> None:
    problem = {"type": "urn:lakehouse:problem:x", "errors": [{"kind": "required", "reason": "one text"}]}
    other = {"type": "urn:lakehouse:problem:x", "errors": [{"kind": "required", "reason": "another text"}]}
    a = [_exchange("p", "/v1/validate", 422, problem, "application/problem+json")]
    assert compare(a, [_exchange("p", "/v1/validate", 422, other, "application/problem+json")]).ok
    ignore_all = [Matcher(path="*", kind="ignore")]
    changed = {**problem, "errors": [{"kind": "pattern", "reason": "one text"}]}
    cases = {
        "status": _exchange("p", "/v1/validate", 400, problem, "application/problem+json"),
        "header.content-type": _exchange("p", "/v1/validate", 422, problem, "application/json"),
        "body.errors[*].kind": _exchange("p", "/v1/validate", 422, changed, "application/problem+json"),
    }
    for field, exchange in cases.items():
        report = compare(a, [exchange], matchers=ignore_all)
        assert [f.field for f in report.fields if f.reported] == [field]


def test_unmatched_cases_are_named() -> None:
    a = [_exchange("one", "/x", 200, {}), _exchange("two", "/x", 200, {})]
    report = compare(a, [_exchange("two", "/x", 200, {}), _exchange("three", "/x", 200, {})])
    assert report.unmatched == ["one", "three"] and not report.ok


def test_thresholds_decide_between_drift_and_noise() -> None:
    primary = [_exchange(f"c{i}", "/x", 200, {"v": 1}) for i in range(100)]
    candidate = [_exchange(f"c{i}", "/x", 200, {"v": 2 if i < 10 else 1}) for i in range(100)]
    secondary = [_exchange(f"c{i}", "/x", 200, {"v": 3 if i < 9 else 1}) for i in range(100)]
    # raw 10, noise 9: beyond noise by 10 % of raw, under the relative threshold of 20 %
    assert compare(primary, candidate, secondary).ok
    assert not compare(primary, candidate, secondary, thresholds=Thresholds(relative=5)).ok


def test_case_files_round_trip_and_a_bad_line_is_named(tmp_path: Path) -> None:
    exchanges = [
        *_run(1, False)[:5],
        Exchange(
            id="bin",
            request=RecordedRequest(
                method="PUT", path="/v1/blobs/b/k", body=Body.of(b"\xff\x00", "application/octet-stream")
            ),
            response=RecordedResponse(status=201, body=Body.of(b"plain text", "text/plain")),
        ),
    ]
    path = tmp_path / "cases.ndjson"
    assert write_cases(path, exchanges) == 6
    back = list(read_cases(path))
    assert back == exchanges
    assert back[-1].request.body.raw() == b"\xff\x00" and back[-1].response.body.text == "plain text"  # type: ignore[union-attr]
    assert flatten(back[0].response)["status"] == 422  # type: ignore[arg-type]
    path.write_text(path.read_text() + '{"id": "x"}\n')
    with pytest.raises(MalformedInput, match="line 7"):
        list(read_cases(path))


def test_the_diff_command_reports_and_exits_1_on_a_drift(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from lakehouse.cli import cli

    paths = {}
    for name, seed, drift in (
        ("primary", 1, False),
        ("candidate", 2, True),
        ("secondary", 3, False),
        ("same", 4, False),
    ):
        paths[name] = tmp_path / f"{name}.ndjson"
        write_cases(paths[name], _run(seed, drift))
    runner = CliRunner()
    out = tmp_path / "report.json"
    args = ["diff", str(paths["primary"]), str(paths["candidate"]), "--secondary", str(paths["secondary"])]
    drifted = runner.invoke(cli, [*args, "--json", str(out)])
    assert drifted.exit_code == 1, drifted.output
    assert "2 field(s) differ beyond noise" in drifted.output
    written = json.loads(out.read_text())
    assert written["differences"] == 2
    assert {f["field"] for f in written["fields"] if f["reported"]} == {"body.errors[*].field", "body.errors[*].name"}
    clean = runner.invoke(
        cli, ["diff", str(paths["primary"]), str(paths["same"]), "--secondary", str(paths["secondary"])]
    )
    assert clean.exit_code == 0, clean.output
    rules = tmp_path / "rules.json"
    rules.write_text('[{"path": "body.id", "kind": "regex"}]')
    bad = runner.invoke(cli, ["diff", str(paths["primary"]), str(paths["same"]), "--rules", str(rules)])
    assert bad.exit_code == 2 and "needs a pattern" in bad.output
