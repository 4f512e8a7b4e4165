"""``lakehouse schemas`` (register, list, show, retire) and ``lakehouse validate SCHEMA FILE``, in-process."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from lakehouse.cli._common import EXIT_FAIL, open_lakehouse, settings_options
from lakehouse.validation import BatchVerdict, RegisteredSchema, SchemaSummary


def _run(config_path: str | None, data_dir: str | None, work: Callable[[Any], Any]) -> Any:
    with open_lakehouse(config_path, data_dir) as lakehouse:
        return work(lakehouse)


def _read_json(path: str, what: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint=what) from exc
    except ValueError as exc:
        raise click.BadParameter(f"{path} is not JSON: {exc}", param_hint=what) from exc


@click.group()
def schemas() -> None:
    """The schema registry: named JSON Schemas, each registration a new version.

    \b
    Examples:
      lakehouse schemas register order order.schema.json --description "An order"
      lakehouse schemas register people --from-dataset people
      lakehouse schemas list
      lakehouse schemas show order --version 1
    """


@schemas.command()
@click.argument("name")
@click.argument("file", required=False)
@click.option("--from-dataset", help="Register the row schema of this dataset instead of a FILE.")
@click.option("--description", help="What the schema describes.")
@click.option("--force", is_flag=True, help="Register even when the new version breaks the previous one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def register(
    name: str,
    file: str | None,
    from_dataset: str | None,
    description: str | None,
    force: bool,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Register FILE (a JSON Schema; - for stdin) as the next version of NAME.

    \b
    Example:
      lakehouse schemas register order order.schema.json
    """
    if (file is None) == (from_dataset is None):
        raise click.UsageError("give a FILE or --from-dataset, not both")

    def work(lakehouse: Any) -> Any:
        document = lakehouse.datasets.json_schema(from_dataset) if from_dataset else _read_json(str(file), "FILE")
        return lakehouse.schemas.register(name, document, description=description, force=force)

    done = _run(config_path, data_dir, work)
    if as_json:
        answer = RegisteredSchema.model_validate({**dict(done.version), "created": done.created})
        click.echo(answer.model_dump_json(indent=2))
        return
    state = "registered" if done.created else "unchanged: the newest version is this document"
    click.echo(f"{done.version.ref}  {state}")
    for change in done.version.breaking_changes:
        click.echo(f"  forced: {change['ctx']['change']} at {change['field']}: {change['reason']}")


@schemas.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def list_schemas(as_json: bool, config_path: str | None, data_dir: str | None) -> None:
    """List the registered schemas.

    \b
    Example:
      lakehouse schemas list --json
    """
    items: list[SchemaSummary] = []
    with open_lakehouse(config_path, data_dir) as lakehouse:
        after = None
        while page := lakehouse.schemas.list(after=after, limit=1000):
            items.extend(page)
            after = page[-1].name
    if as_json:
        click.echo(json.dumps([item.model_dump(mode="json") for item in items], indent=2))
        return
    table = Table("name", "latest", "versions", "description")
    for item in items:
        latest = item.latest_version
        table.add_row(item.name, str(latest) if latest else "(retired)", str(item.versions), item.description or "")
    Console().print(table)


@schemas.command()
@click.argument("name")
@click.option("--version", type=int, help="This version (default: the newest live one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines (the whole record).")
@settings_options
def show(name: str, version: int | None, as_json: bool, config_path: str | None, data_dir: str | None) -> None:
    """Print a schema version: its document, or with --json the whole record.

    \b
    Example:
      lakehouse schemas show order --version 2
    """
    found = _run(config_path, data_dir, lambda lakehouse: lakehouse.schemas.get(name, version))
    if as_json:
        click.echo(found.model_dump_json(indent=2))
        return
    retired = f"  retired {found.retired_at.isoformat()}" if found.retired_at else ""
    click.echo(f"{found.ref}  draft {found.draft}{retired}", err=True)
    click.echo(json.dumps(found.schema_, indent=2))


@schemas.command()
@click.argument("name")
@click.argument("version", type=int)
@settings_options
def retire(name: str, version: int, config_path: str | None, data_dir: str | None) -> None:
    """Retire VERSION of NAME: validating against it is refused from then on.

    \b
    Example:
      lakehouse schemas retire order 1
    """
    found = _run(config_path, data_dir, lambda lakehouse: lakehouse.schemas.retire(name, version))
    click.echo(f"{found.ref}  retired")


def _payloads(file: str) -> tuple[list[Any], bool]:
    """(payloads, one) from a JSON file (one payload) or NDJSON (.ndjson/.jsonl, or lines that each parse)."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from exc
    if not file.endswith((".ndjson", ".jsonl")):
        try:
            return [json.loads(text)], True
        except ValueError:
            pass
    payloads = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                payloads.append(json.loads(line))
            except ValueError as exc:
                raise click.BadParameter(f"{file} line {number} is not JSON: {exc}", param_hint="FILE") from exc
    return payloads, False


@click.command()
@click.argument("schema")
@click.argument("file")
@click.option("--max-errors", type=click.IntRange(1, 10_000), help="Error items per payload (validation.max_errors).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON for machines.")
@settings_options
def validate(
    schema: str, file: str, max_errors: int | None, as_json: bool, config_path: str | None, data_dir: str | None
) -> None:
    """Validate FILE (one JSON payload, or NDJSON: one per line; - for stdin) against SCHEMA: a registered name,
    name@version, or a JSON Schema file. Exits 1 when any payload is invalid.

    \b
    Examples:
      lakehouse validate order payload.json
      lakehouse validate order@2 orders.ndjson --json
      lakehouse validate ./order.schema.json payload.json
    """
    spec: Any = _read_json(schema, "SCHEMA") if schema.endswith(".json") and Path(schema).is_file() else schema
    payloads, one = _payloads(file)
    batch: BatchVerdict = _run(
        config_path,
        data_dir,
        lambda lakehouse: lakehouse.validation.validate_many(spec, payloads, max_errors=max_errors),
    )
    if as_json:
        body = batch.to_dict()
        click.echo(json.dumps(body["results"][0] if one else body, indent=2))
    elif batch.valid:
        click.echo(f"valid: {len(payloads)} payload(s)")
    else:
        table = Table("payload" if one else "line", "kind", "field", "reason")
        for verdict in batch.results:
            for item in verdict.errors:
                table.add_row(
                    "" if one else str((verdict.index or 0) + 1), item.kind, item.field or "(payload)", item.reason
                )
        Console().print(table)
        click.echo(f"invalid: {batch.invalid_count} of {len(payloads)} payload(s)", err=True)
    if not batch.valid:
        sys.exit(EXIT_FAIL)
