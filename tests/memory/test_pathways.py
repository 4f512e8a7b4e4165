"""Pathways on SQLite and PostgreSQL: steps appended while the run is live, the outcome recorded once, retired steps
and retired pathways never returned (and counted), each change in the memory's history; and over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import (
    MemoryNotFound,
    MemoryRetired,
    PathwayEnded,
    RequestValidationFailed,
    StepNotFound,
)
from lakehouse.memory import AddMemory, AppendSteps, EndPathway, RetireMemory, RetireStep, Scope, StartPathway
from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

SCOPE = {"tenant": "acme", "agent_id": "support-bot"}


@pytest.fixture
def lh(opsdb_url: str, tmp_path: Path) -> Iterator[Lakehouse]:
    settings = Settings.model_validate(
        {"data_dir": tmp_path / "data", "opsdb": {"url": opsdb_url}, "embed": {"provider": "hashing"}}
    )
    with Lakehouse(settings) as lakehouse:
        yield lakehouse


def test_a_run_from_start_to_outcome_with_a_retired_step(lh: Lakehouse) -> None:
    runs = lh.pathways
    run = runs.start(
        StartPathway(
            scope=SCOPE, summary="Refund a double charge", steps=[{"action": "look up the order", "output": "#42"}]
        )
    )
    pid = run.id
    assert [s.id for s in run.steps] == ["s1"] and run.outcome is None
    run = runs.append(
        pid,
        AppendSteps(scope=SCOPE, steps=[{"action": "refund the card", "input": {"amount": 20}}, {"action": "email"}]),
    )
    assert [s.action for s in run.steps] == ["look up the order", "refund the card", "email"]
    run = runs.retire_step(pid, "s2", RetireStep(scope=SCOPE, reason="refunded the wrong card"))
    assert [s.id for s in run.steps] == ["s1", "s3"] and run.suppressed_steps == 1
    with pytest.raises(StepNotFound):
        runs.retire_step(pid, "s2", RetireStep(scope=SCOPE, reason="again"))
    ended = runs.end(pid, EndPathway(scope=SCOPE, outcome="partial", score=0.5))
    assert ended.outcome == "partial" and ended.score == 0.5
    with pytest.raises(PathwayEnded):
        runs.append(pid, AppendSteps(scope=SCOPE, steps=[{"action": "too late"}]))
    with pytest.raises(PathwayEnded):
        runs.end(pid, EndPathway(scope=SCOPE, outcome="success"))
    assert runs.get(pid, Scope(**SCOPE)).steps == ended.steps
    ops = [e.op for e in lh.memory.history(pid, Scope(**SCOPE)).events]
    assert ops == ["add", "append", "retire_step", "end"]
    # the retired step is in history, not in what is read
    assert lh.memory.history(pid, Scope(**SCOPE)).events[2].after["data"]["steps"][1]["retired"] is True


def test_retired_pathways_are_never_returned_and_pathways_never_deduplicate(lh: Lakehouse) -> None:
    runs = lh.pathways
    first = runs.start(
        StartPathway(scope=SCOPE, summary="Reset a password", steps=[{"action": "send link"}], outcome="success")
    )
    second = runs.start(
        StartPathway(scope=SCOPE, summary="Reset a password", steps=[{"action": "call"}], outcome="failure")
    )
    assert first.id != second.id
    runs.retire_step(second.id, "s1", RetireStep(scope=SCOPE, reason="harmful"))
    lh.memory.retire(first.id, RetireMemory(scope=SCOPE, reason="leaked a token"))
    listed = runs.list_pathways(Scope(**SCOPE))
    assert [p.id for p in listed.items] == [second.id]
    assert listed.suppressed.model_dump() == {"pathways": 1, "steps": 1} and listed.items[0].steps == []
    assert runs.list_pathways(Scope(**SCOPE), outcome="success").items == []
    with pytest.raises(MemoryRetired):
        runs.get(first.id, Scope(**SCOPE))
    fact = lh.memory.add(AddMemory(scope=SCOPE, kind="fact", content="Not a pathway"))
    with pytest.raises(MemoryNotFound):
        runs.get(fact.id, Scope(**SCOPE))
    with pytest.raises(RequestValidationFailed) as raised:
        runs.start(
            StartPathway(scope=SCOPE, summary="Bad", steps=[{"action": ""}, {"action": "x", "colour": 1}, "step"])
        )
    assert {e.field for e in raised.value.errors} == {"steps[0].action", "steps[1].colour", "steps[2]"}


def test_over_http(client: AppClient) -> None:
    made = client.post("/v1/pathways", json={"scope": SCOPE, "summary": "Ship an order", "steps": [{"action": "pack"}]})
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    grown = client.post(f"/v1/pathways/{pid}/steps", json={"scope": SCOPE, "steps": [{"action": "label"}]})
    assert [s["id"] for s in grown.json()["steps"]] == ["s1", "s2"]
    retired = client.post(f"/v1/pathways/{pid}/steps/s1/retire", json={"scope": SCOPE, "reason": "wrong box"})
    assert retired.json()["suppressed_steps"] == 1
    assert client.post(f"/v1/pathways/{pid}/end", json={"scope": SCOPE, "outcome": "success"}).status_code == 200
    assert_problem(
        client.post(f"/v1/pathways/{pid}/steps", json={"scope": SCOPE, "steps": [{"action": "x"}]}),
        409,
        "pathway_ended",
    )
    got = client.get(f"/v1/pathways/{pid}", params=SCOPE).json()
    assert [s["action"] for s in got["steps"]] == ["label"] and got["outcome"] == "success"
    listed = client.get("/v1/pathways", params=SCOPE).json()
    assert [p["id"] for p in listed["items"]] == [pid] and listed["suppressed"]["steps"] == 1
