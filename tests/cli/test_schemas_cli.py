"""`lakehouse schemas` and `lakehouse validate` over a data dir: register, refuse a breaking change, validate JSON
and NDJSON files (exit 1 when invalid, a table or --json), ingest --schema."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lakehouse.cli import cli

ORDER = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 1}}}


def test_schema_commands(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    schema_file = tmp_path / "order.schema.json"
    schema_file.write_text(json.dumps(ORDER))

    registered = runner.invoke(cli, ["schemas", "register", "order", str(schema_file), "--description", "o", *data])
    assert registered.exit_code == 0 and "order@1  registered" in registered.output, registered.output
    narrower = tmp_path / "narrower.json"
    narrower.write_text(json.dumps({**ORDER, "required": ["id", "name"]}))
    refused = runner.invoke(cli, ["schemas", "register", "order", str(narrower), *data])
    assert refused.exit_code == 1 and "required_added" in refused.output
    forced = runner.invoke(cli, ["schemas", "register", "order", str(narrower), "--force", "--json", *data])
    assert forced.exit_code == 0 and json.loads(forced.output)["version"] == 2
    listed = json.loads(runner.invoke(cli, ["schemas", "list", "--json", *data]).output)
    assert [(s["name"], s["latest_version"]) for s in listed] == [("order", 2)]
    shown = runner.invoke(cli, ["schemas", "show", "order", "--version", "1", *data])
    assert shown.exit_code == 0 and json.loads(shown.stdout) == ORDER

    good, bad, lines = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "many.ndjson"
    good.write_text('{"id": 3}')
    bad.write_text('{"id": 0}')
    lines.write_text('{"id": 1}\n\n{"id": "x"}\n{"id": 2}\n')
    ok = runner.invoke(cli, ["validate", "order@1", str(good), *data])
    assert ok.exit_code == 0 and "valid: 1 payload(s)" in ok.output
    table = runner.invoke(cli, ["validate", "order@1", str(bad), *data])
    assert table.exit_code == 1 and "minimum" in table.stdout and "id must be >= 1" in table.stdout
    as_json = runner.invoke(cli, ["validate", "order@1", str(lines), "--json", *data])
    verdicts = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and verdicts["invalid_count"] == 1
    assert verdicts["results"][1]["errors"][0]["kind"] == "type"
    inline = runner.invoke(cli, ["validate", str(schema_file), str(good), *data])
    assert inline.exit_code == 0
    missing = runner.invoke(cli, ["validate", "nope", str(good), *data])
    assert missing.exit_code == 1 and "no schema named nope" in missing.output

    ingest = runner.invoke(
        cli, ["ingest", str(lines), "--dataset", "orders", "--schema", "order@1", "--on-error", "skip", *data]
    )
    assert ingest.exit_code == 0, ingest.output
    assert json.loads(ingest.stdout)["rows_rejected"] == 1
    retired = runner.invoke(cli, ["schemas", "retire", "order", "1", *data])
    assert retired.exit_code == 0 and "order@1  retired" in retired.output
    gone = runner.invoke(cli, ["validate", "order@1", str(good), *data])
    assert gone.exit_code == 1 and "retired" in gone.output
