"""`lakehouse collections` and `lakehouse search` over a data dir."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lakehouse.cli import cli
from lakehouse.config import Settings
from lakehouse.core import Lakehouse


def test_collections_and_search(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings.model_validate({"data_dir": data, "embed": {"hashing_dim": 16}})
    with Lakehouse(settings) as lh:
        lh.vectors.create("faq", 16, embedder="hashing-16")
        lh.vectors.upsert(
            "faq",
            [
                {"id": "refunds", "text": "refunds reach your card in five days", "metadata": {"lang": "en"}},
                {"id": "versand", "text": "bestellungen werden in einem tag versandt", "metadata": {"lang": "de"}},
            ],
        )
    env = {"LAKEHOUSE_EMBED__HASHING_DIM": "16"}
    runner = CliRunner()
    listed = runner.invoke(cli, ["collections", "--data-dir", str(data), "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [c["name"] for c in json.loads(listed.output)] == ["faq"]
    described = runner.invoke(cli, ["collections", "faq", "--data-dir", str(data)], env=env)
    assert "faq: 2 points, 16 dims, cosine" in described.output
    found = runner.invoke(cli, ["search", "faq", "refunds card", "--data-dir", str(data), "--json", "-k", "1"], env=env)
    assert found.exit_code == 0, found.output
    assert [r["id"] for r in json.loads(found.output)] == ["refunds"]
    filtered = runner.invoke(
        cli, ["search", "faq", "refunds card", "--filter", '{"lang": "de"}', "--data-dir", str(data), "--json"], env=env
    )
    assert [r["id"] for r in json.loads(filtered.output)] == ["versand"]
    table = runner.invoke(cli, ["search", "faq", "refunds", "--data-dir", str(data)], env=env)
    assert "refunds" in table.output and table.exit_code == 0
    bad = runner.invoke(
        cli, ["search", "faq", "x", "--filter", '{"lang": {"like": 1}}', "--data-dir", str(data)], env=env
    )
    assert bad.exit_code != 0 and "invalid_filter" in bad.output + (bad.stderr if bad.stderr_bytes else "")
    missing = runner.invoke(cli, ["search", "nope", "x", "--data-dir", str(data)], env=env)
    assert missing.exit_code != 0
