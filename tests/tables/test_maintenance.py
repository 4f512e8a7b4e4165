"""Lake maintenance: flush, compact, expire and cleanup keep the data and report what they changed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from lakehouse.errors import BadRequest
from lakehouse.tables import maintenance
from lakehouse.tables.lake import Lake


def _parquet_files(lake: Lake) -> list[str]:
    """The Parquet files under the lake's data path, listed by the store itself (a directory or an S3 prefix)."""
    with lake.cursor() as cur:
        return sorted(
            r[0] for r in cur.execute("SELECT file FROM glob(?)", [lake.data_path + "**/*.parquet"]).fetchall()
        )


def test_compact_expire_cleanup_keep_the_data(lake: Lake) -> None:
    with lake.cursor() as cur:
        cur.execute("CREATE TABLE lake.t (a INTEGER)")
        for i in range(4):
            cur.execute(f"INSERT INTO lake.t SELECT range FROM range({i * 1000}, {(i + 1) * 1000})")
    flushed = maintenance.flush(lake)
    assert flushed["action"] == "flush"
    compacted = maintenance.compact(lake)
    assert compacted["files_merged"] >= 2 and compacted["tables"][0]["dataset"] == "main.t"
    expired = maintenance.expire(lake, dt.timedelta(0))
    assert expired["snapshots_expired"], "older snapshots were expired"
    before = len(_parquet_files(lake))
    cleaned = maintenance.cleanup(lake, dt.timedelta(0))
    assert cleaned["files_deleted"] >= 2 and len(_parquet_files(lake)) == before - cleaned["files_deleted"]
    with lake.cursor() as cur:
        assert cur.execute("SELECT count(*), sum(a) FROM lake.t").fetchone() == (4000, sum(range(4000)))


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("12h", 43200), ("7d", 604800), ("2w", 1209600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert maintenance.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["", "7", "7y", "-1d", "d7"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(BadRequest):
        maintenance.parse_duration(bad)


def test_lake_cli(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    csv = tmp_path / "a.csv"
    csv.write_text("id\n1\n2\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(csv), "--dataset", "t", "--data-dir", data], env={}).exit_code == 0
    result = runner.invoke(cli, ["lake", "checkpoint", "--data-dir", data], env={})
    assert result.exit_code == 0 and json.loads(result.stdout)["steps"][0]["rows_flushed"] == 2
    result = runner.invoke(cli, ["lake", "expire", "--older-than", "7d", "--data-dir", data], env={})
    assert result.exit_code == 0 and json.loads(result.stdout)["snapshots_expired"] == []
    result = runner.invoke(cli, ["lake", "expire", "--older-than", "soon", "--data-dir", data], env={})
    assert result.exit_code == 1 and "duration" in result.stderr
    assert runner.invoke(cli, ["lake", "cleanup", "--data-dir", data], env={}).exit_code == 0
