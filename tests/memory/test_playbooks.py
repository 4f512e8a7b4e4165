"""Playbooks: promoted only from active, successful pathways (without their retired steps), uses recorded, search
ranked by similarity x a Wilson-bound confidence with both parts shown, retired playbooks left out and counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import MemoryNotFound, MemoryRetired, RequestValidationFailed
from lakehouse.memory import (
    AppendSteps,
    EndPathway,
    PlaybookSearch,
    PromotePlaybook,
    RecordUse,
    RetireMemory,
    RetireStep,
    Scope,
    StartPathway,
)
from lakehouse.memory.playbooks import confidence
from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

SCOPE = {"tenant": "acme", "agent_id": "ops-bot"}


@pytest.fixture
def lh(opsdb_url: str, tmp_path: Path) -> Iterator[Lakehouse]:
    settings = Settings.model_validate(
        {"data_dir": tmp_path / "data", "opsdb": {"url": opsdb_url}, "embed": {"provider": "hashing"}}
    )
    with Lakehouse(settings) as lakehouse:
        yield lakehouse


def test_confidence_is_a_wilson_lower_bound_with_a_prior() -> None:
    assert confidence(0, 0) == pytest.approx(0.0945, abs=1e-3)
    assert confidence(9, 1) < confidence(90, 10) < 0.9
    assert confidence(10, 0) > confidence(5, 5) > confidence(0, 10)


def test_promote_use_and_search(lh: Lakehouse) -> None:
    runs, books = lh.pathways, lh.playbooks
    good = runs.start(
        StartPathway(scope=SCOPE, summary="Restart a stuck worker", steps=[{"action": "drain"}, {"action": "kill -9"}])
    )
    runs.append(good.id, AppendSteps(scope=SCOPE, steps=[{"action": "start"}]))
    runs.retire_step(good.id, "s2", RetireStep(scope=SCOPE, reason="too harsh"))
    runs.end(good.id, EndPathway(scope=SCOPE, outcome="success"))
    failed = runs.start(
        StartPathway(
            scope=SCOPE, summary="Restart a stuck worker", steps=[{"action": "reboot host"}], outcome="failure"
        )
    )
    with pytest.raises(RequestValidationFailed) as refused:
        books.promote(
            PromotePlaybook(
                scope=SCOPE, name="Worker restart", trigger="a worker stops taking jobs", sources=[good.id, failed.id]
            )
        )
    assert refused.value.errors[0].field == "sources[1]"
    with pytest.raises(MemoryNotFound):
        books.promote(
            PromotePlaybook(scope=SCOPE, name="Worker restart", trigger="a worker stops taking jobs", sources=["nope"])
        )
    book = books.promote(
        PromotePlaybook(scope=SCOPE, name="Worker restart", trigger="a worker stops taking jobs", sources=[good.id])
    )
    assert [s["action"] for s in book.steps] == ["drain", "start"]  # the retired step is not promoted
    assert book.sources == [good.id] and book.uses.model_dump() == {"success": 0, "failure": 0}
    other = books.promote(
        PromotePlaybook(
            scope=SCOPE,
            name="Disk cleanup",
            trigger="a disk is nearly full",
            sources=[good.id],
            steps=[{"action": "prune"}],
        )
    )
    for _ in range(8):
        books.record_use(book.id, RecordUse(scope=SCOPE, outcome="success"))
    used = books.record_use(book.id, RecordUse(scope=SCOPE, outcome="failure", pathway_id=failed.id))
    assert used.uses.model_dump() == {"success": 8, "failure": 1} and used.confidence > book.confidence
    found = books.search(PlaybookSearch(scope=SCOPE, task="worker stops taking jobs", k=2))
    assert found.results[0].id == book.id
    top = found.results[0]
    assert top.score == pytest.approx(top.similarity * top.confidence, abs=1e-5)
    lh.memory.retire(other.id, RetireMemory(scope=SCOPE, reason="obsolete"))
    after = books.search(PlaybookSearch(scope=SCOPE, task="disk is nearly full", k=5))
    assert other.id not in [r.id for r in after.results] and after.suppressed == 1
    with pytest.raises(MemoryRetired):
        books.record_use(other.id, RecordUse(scope=SCOPE, outcome="success"))
    lh.memory.retire(good.id, RetireMemory(scope=SCOPE, reason="the runbook changed"))
    with pytest.raises(RequestValidationFailed):  # a retired pathway is never promoted
        books.promote(PromotePlaybook(scope=SCOPE, name="Again", trigger="again", sources=[good.id]))
    ops = [e.op for e in lh.memory.history(book.id, Scope(**SCOPE)).events]
    assert ops == ["add"] + ["use"] * 9


def test_over_http(client: AppClient) -> None:
    run = client.post(
        "/v1/pathways",
        json={"scope": SCOPE, "summary": "Rotate a key", "steps": [{"action": "issue"}], "outcome": "success"},
    ).json()
    made = client.post(
        "/v1/playbooks", json={"scope": SCOPE, "name": "Key rotation", "trigger": "a key leaks", "sources": [run["id"]]}
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    assert client.post(f"/v1/playbooks/{pid}/uses", json={"scope": SCOPE, "outcome": "success"}).json()["uses"] == {
        "success": 1,
        "failure": 0,
    }
    found = client.post("/v1/playbooks/search", json={"scope": SCOPE, "task": "a key leaked"}).json()
    assert found["results"][0]["id"] == pid and {"similarity", "confidence", "score"} <= set(found["results"][0])
    assert client.get(f"/v1/playbooks/{pid}", params=SCOPE).json()["name"] == "Key rotation"
    assert_problem(client.post(f"/v1/playbooks/{pid}/uses", json={"scope": SCOPE, "outcome": "maybe"}), 422, "enum")
