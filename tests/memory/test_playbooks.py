"""Playbooks: promoted only from active, successful pathways (without their retired steps), uses recorded, search
ranked by similarity x a Wilson-bound confidence with both parts shown, retired playbooks left out and counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import MemoryNotFound, MemoryRetired, RequestValidationFailed
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
    good = runs.start(SCOPE, "Restart a stuck worker", steps=[{"action": "drain"}, {"action": "kill -9"}])
    runs.append(good["id"], SCOPE, [{"action": "start"}])
    runs.retire_step(good["id"], SCOPE, "s2", reason="too harsh")
    runs.end(good["id"], SCOPE, "success")
    failed = runs.start(SCOPE, "Restart a stuck worker", steps=[{"action": "reboot host"}], outcome="failure")
    with pytest.raises(RequestValidationFailed) as refused:
        books.promote(SCOPE, "Worker restart", "a worker stops taking jobs", [good["id"], failed["id"]])
    assert refused.value.errors[0].field == "sources[1]"
    with pytest.raises(MemoryNotFound):
        books.promote(SCOPE, "Worker restart", "a worker stops taking jobs", ["nope"])
    book = books.promote(SCOPE, "Worker restart", "a worker stops taking jobs", [good["id"]])
    assert [s["action"] for s in book["steps"]] == ["drain", "start"]  # the retired step is not promoted
    assert book["sources"] == [good["id"]] and book["uses"] == {"success": 0, "failure": 0}
    other = books.promote(SCOPE, "Disk cleanup", "a disk is nearly full", [good["id"]], steps=[{"action": "prune"}])
    for _ in range(8):
        books.record_use(book["id"], SCOPE, "success")
    used = books.record_use(book["id"], SCOPE, "failure", pathway_id=failed["id"])
    assert used["uses"] == {"success": 8, "failure": 1} and used["confidence"] > book["confidence"]
    found = books.search(SCOPE, "worker stops taking jobs", k=2)
    assert found["results"][0]["id"] == book["id"]
    top = found["results"][0]
    assert top["score"] == pytest.approx(top["similarity"] * top["confidence"], abs=1e-5)
    lh.memory.retire(other["id"], SCOPE, reason="obsolete")
    after = books.search(SCOPE, "disk is nearly full", k=5)
    assert other["id"] not in [r["id"] for r in after["results"]] and after["suppressed"] == 1
    with pytest.raises(MemoryRetired):
        books.record_use(other["id"], SCOPE, "success")
    lh.memory.retire(good["id"], SCOPE, reason="the runbook changed")
    with pytest.raises(RequestValidationFailed):  # a retired pathway is never promoted
        books.promote(SCOPE, "Again", "again", [good["id"]])
    ops = [e["op"] for e in lh.memory.history(book["id"], SCOPE)["events"]]
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
    assert_problem(
        client.post(f"/v1/playbooks/{pid}/uses", json={"scope": SCOPE, "outcome": "maybe"}), 422, "validation_failed"
    )
