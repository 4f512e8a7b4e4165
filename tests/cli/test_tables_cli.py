"""`lakehouse datasets`, `lakehouse ingest` and `lakehouse sql` on a data dir."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from lakehouse.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_ingest_describe_query(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    csv = tmp_path / "people.csv"
    csv.write_text("id,name\n1,ada\n2,bob\n")
    code, out, _ = run("ingest", str(csv), "--dataset", "crm.people", "--data-dir", data)
    assert code == 0 and json.loads(out)["rows_written"] == 2
    changes = tmp_path / "changes.ndjson"
    changes.write_text('{"id": 2, "name": "BOB"}\n')
    code, out, _ = run(
        "ingest", str(changes), "--dataset", "crm.people", "--mode", "upsert", "--key", "id", "--data-dir", data
    )
    assert code == 0 and json.loads(out)["mode"] == "upsert"
    code, out, _ = run("datasets", "--json", "--data-dir", data)
    assert json.loads(out) == [{"namespace": "crm", "name": "people"}]
    code, out, _ = run("datasets", "crm.people", "--json", "--data-dir", data)
    assert json.loads(out)["row_count"] == 2
    code, out, _ = run("sql", "SELECT name FROM crm.people ORDER BY id", "--format", "json", "--data-dir", data)
    assert json.loads(out)["rows"] == [["ada"], ["BOB"]]
    target = tmp_path / "out.parquet"
    code, _, _ = run(
        "sql", "SELECT * FROM crm.people", "--format", "parquet", "--output", str(target), "--data-dir", data
    )
    assert code == 0 and pq.read_table(io.BytesIO(target.read_bytes())).num_rows == 2
    code, out, _ = run("sql", "SELECT count(*) AS n FROM crm.people", "--data-dir", data)
    assert code == 0 and "2" in out


def test_refusals_exit_1_with_the_reason(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    good = tmp_path / "a.csv"
    good.write_text("id\n1\n")
    run("ingest", str(good), "--dataset", "t", "--data-dir", data)
    bad = tmp_path / "b.csv"
    bad.write_text("id\n2\nx\n")
    code, _, err = run("ingest", str(bad), "--dataset", "t", "--data-dir", data)
    assert code == 1 and "conversion_failed" in err and "(line 3)" in err
    code, _, err = run("sql", "DELETE FROM t", "--data-dir", data)
    assert code == 1 and "not allowed" in err
    code, _, err = run("datasets", "nope", "--data-dir", data)
    assert code == 1 and "no dataset main.nope" in err
    unknown = tmp_path / "c.xyz"
    unknown.write_text("x")
    code, _, err = run("ingest", str(unknown), "--dataset", "t", "--data-dir", data)
    assert code == 2 and "--format" in err
