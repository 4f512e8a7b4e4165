"""`lakehouse memory` over a data dir: each operation, and a refusal that exits 1 and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from lakehouse.cli import cli
from lakehouse.memory import StartPathway


def test_memory_commands(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    runner = CliRunner()
    scope = ["--tenant", "acme", "--user", "u1", "--data-dir", data]

    def run(*args: str) -> Any:
        result = runner.invoke(cli, ["memory", *args, *scope])
        assert result.exit_code == 0, result.output
        return result

    def run_json(*args: str) -> Any:
        return json.loads(run(*args, "--json").output)

    added = run_json("add", "Prefers email over phone", "--tag", "contact", "--actor", "intake")
    mid = added["id"]
    assert added["tags"] == ["contact"] and added["deduplicated"] is False
    assert run_json("add", "prefers EMAIL over phone")["id"] == mid
    stale = runner.invoke(cli, ["memory", "update", mid, "Prefers SMS", "--version", "3", *scope])
    assert stale.exit_code == 1 and "version_conflict" in stale.output
    assert run_json("show", mid)["version"] == 1
    assert run_json("update", mid, "Prefers SMS", "--version", "1", "--reason", "told us")["version"] == 2
    successor = run_json("revise", mid, "--content", "Prefers SMS after 6pm")
    assert run_json("show", mid)["superseded_by"] == successor["id"]
    assert run_json("retire", successor["id"], "--reason", "wrong")["status"] == "retired"
    assert run_json("restore", successor["id"])["status"] == "active"
    listed = run_json("list", "--status", "active")
    assert [m["id"] for m in listed] == [successor["id"]]
    history = run_json("history", mid)
    assert [e["op"] for e in history["events"]] == ["add", "update", "revise"] and history["events"][0][
        "actor"
    ] == "intake"
    assert "current:" in run("history", mid).output
    found = run_json("search", "SMS evening", "-k", "3")
    assert [r["id"] for r in found["results"]] == [successor["id"]] and found["suppressed"] >= 1
    assert run_json("forget", mid, "--reason", "asked")["forgotten"] is True
    gone = runner.invoke(cli, ["memory", "show", mid, *scope])
    assert gone.exit_code == 1 and "no memory" in gone.output


def test_playbook_commands(tmp_path: Path) -> None:
    from lakehouse.config import Settings
    from lakehouse.core import Lakehouse

    data = tmp_path / "data"
    scope = {"tenant": "acme"}
    env = {"LAKEHOUSE_EMBED__PROVIDER": "hashing"}
    with Lakehouse(Settings.model_validate({"data_dir": data, "embed": {"provider": "hashing"}})) as lh:
        run = lh.pathways.start(
            StartPathway(scope=scope, summary="Restart a worker", steps=[{"action": "drain"}], outcome="success")
        )
    runner = CliRunner()
    where = ["--tenant", "acme", "--data-dir", str(data)]
    made = runner.invoke(
        cli,
        [
            "playbooks",
            "promote",
            "--name",
            "Worker restart",
            "--trigger",
            "a worker hangs",
            "--source",
            run.id,
            *where,
            "--json",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.output
    pid = json.loads(made.output)["id"]
    used = runner.invoke(cli, ["playbooks", "use", pid, "--outcome", "success", *where], env=env)
    assert used.exit_code == 0 and "1 successes, 0 failures" in used.output
    found = runner.invoke(cli, ["playbooks", "search", "worker hangs", *where, "--json"], env=env)
    assert [r["id"] for r in json.loads(found.output)["results"]] == [pid]
    shown = runner.invoke(cli, ["playbooks", "show", pid, *where], env=env)
    assert "1. drain" in shown.output
    bad = runner.invoke(
        cli, ["playbooks", "promote", "--name", "x", "--trigger", "y", "--source", "nope", *where], env=env
    )
    assert bad.exit_code == 1
