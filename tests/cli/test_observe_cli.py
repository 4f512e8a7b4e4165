"""`lakehouse traces` and `lakehouse observe` over a data dir: a list, a tree with durations, tokens and cost, JSON
for machines, a missing trace that exits 1, retention and repricing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.observe import ScoreBatch, SpanBatch

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_traces_and_observe_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ended = datetime.now(UTC) - timedelta(days=10)
    spans = [
        {
            "trace_id": TRACE,
            "span_id": "0000000000000001",
            "name": "plan trip",
            "kind": "agent",
            "start_time": (ended - timedelta(seconds=2)).isoformat(),
            "end_time": ended.isoformat(),
            "session_id": "trip-7",
        },
        {
            "trace_id": TRACE,
            "span_id": "0000000000000002",
            "parent_span_id": "0000000000000001",
            "name": "chat",
            "start_time": (ended - timedelta(seconds=1)).isoformat(),
            "end_time": ended.isoformat(),
            "model": "gpt-4o",
            "input_tokens": 1000,
            "output_tokens": 100,
        },
    ]
    with Lakehouse(Settings.model_validate({"data_dir": data})) as lh:
        lh.observe.ingest_batch(SpanBatch.model_validate({"spans": spans}))
        lh.observe.record_scores(ScoreBatch.model_validate({"scores": [{"trace_id": TRACE, "name": "ok", "value": 1}]}))
    runner = CliRunner(env={"COLUMNS": "200"})  # a terminal wide enough for the table
    where = ["--data-dir", str(data)]
    listed = runner.invoke(cli, ["traces", "list", "--session", "trip-7", *where])
    assert listed.exit_code == 0 and TRACE in listed.output and "plan trip" in listed.output
    tree = runner.invoke(cli, ["traces", "show", TRACE, *where])
    assert tree.exit_code == 0, tree.output
    assert "plan trip" in tree.output and "gpt-4o" in tree.output and "1000/100 tokens" in tree.output
    assert "$0.0035" in tree.output and "score ok = 1.0" in tree.output
    shown = json.loads(runner.invoke(cli, ["traces", "show", TRACE, "--json", *where]).output)
    assert shown["totals"]["cost"] == pytest.approx(0.0035) and shown["spans"][0]["children"][0]["name"] == "chat"
    missing = runner.invoke(cli, ["traces", "show", "0" * 31 + "1", *where])
    assert missing.exit_code == 1 and "no trace 0000" in missing.output
    assert json.loads(runner.invoke(cli, ["observe", "reprice", *where]).output) == {"priced": 1}
    assert json.loads(runner.invoke(cli, ["observe", "compact", *where]).output) == {"files_merged": 0}
    kept = json.loads(runner.invoke(cli, ["observe", "expire", "--older-than", "30d", *where]).output)
    assert kept["spans"] == 0
    gone = json.loads(runner.invoke(cli, ["observe", "expire", "--older-than", "7d", *where]).output)
    assert gone["spans"] == 2 and gone["scores"] == 1
    assert json.loads(runner.invoke(cli, ["traces", "list", "--json", *where]).output)["items"] == []
    bad = runner.invoke(cli, ["observe", "expire", "--older-than", "soon", *where])
    assert bad.exit_code != 0
