"""``lakehouse datasets``, ``lakehouse ingest`` and ``lakehouse sql``: the table lake from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import cast

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn
from rich.table import Table

from lakehouse.cli._common import open_lakehouse, settings_options
from lakehouse.tables.ingest import SUFFIX_FORMATS, Format, Mode, format_of_file
from lakehouse.tables.screen import OnError


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def datasets(name: str | None, as_json: bool, config_path: str | None, data_dir: str | None) -> None:
    """List datasets, or describe one.

    \b
    Examples:
      lakehouse datasets
      lakehouse datasets sales.orders --json
    """
    with open_lakehouse(config_path, data_dir) as lakehouse:
        if name:
            described = lakehouse.datasets.get(name).model_dump(mode="json")
            click.echo(json.dumps(described, indent=2, default=str)) if as_json else _print_dataset(described)
            return
        names = lakehouse.datasets.list()
    if as_json:
        click.echo(json.dumps([{"namespace": ns, "name": n} for ns, n in names], indent=2))
        return
    table = Table(title="datasets")
    table.add_column("dataset")
    for ns, n in names:
        table.add_row(f"{ns}.{n}")
    Console().print(table)


def _print_dataset(described: dict[str, object]) -> None:
    table = Table(title=f"{described['namespace']}.{described['name']}")
    for column in ("column", "type", "nullable"):
        table.add_column(column)
    for col in described["columns"]:  # type: ignore[attr-defined]
        table.add_row(col["name"], col["type"], "yes" if col["nullable"] else "no")
    console = Console()
    console.print(table)
    console.print(
        f"rows {described['row_count']}, {described['size_bytes']} bytes in {described['file_count']} files, "
        f"snapshot {described['snapshot_id']}, updated {described['updated_at']}"
    )


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dataset", "dataset", required=True, help="Target dataset: name or namespace.name.")
@click.option("--format", "fmt", type=click.Choice(sorted(set(SUFFIX_FORMATS.values()))), help="Default: by suffix.")
@click.option("--mode", type=click.Choice(["append", "overwrite", "upsert"]), default="append", show_default=True)
@click.option("--key", help="Key column(s) for upsert, comma-separated.")
@click.option("--create/--no-create", default=True, show_default=True, help="Create the dataset if missing.")
@click.option("--schema", help="Check every row against this registered schema (name or name@version) first.")
@click.option(
    "--on-error",
    type=click.Choice(["reject", "skip"]),
    default="reject",
    show_default=True,
    help="With --schema: refuse the file if any row fails, or write the rows that pass.",
)
@settings_options
def ingest(
    file: Path,
    dataset: str,
    fmt: str | None,
    mode: str,
    key: str | None,
    create: bool,
    schema: str | None,
    on_error: str,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Write FILE into a dataset as one commit (same rules as POST /v1/datasets/{name}/ingest).

    \b
    Examples:
      lakehouse ingest customers.csv --dataset crm.customers
      lakehouse ingest changes.parquet --dataset crm.customers --mode upsert --key id
      lakehouse ingest orders.ndjson --dataset orders --schema order --on-error skip
    """
    chosen = fmt or format_of_file(file)
    if chosen is None:
        raise click.UsageError(f"cannot tell the format of {file.name}; pass --format")
    keys = [k.strip() for k in key.split(",")] if key else []
    with (
        open_lakehouse(config_path, data_dir) as lakehouse,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            transient=True,
            console=Console(stderr=True),
        ) as progress,
    ):
        task = progress.add_task(f"ingesting {file.name} ({file.stat().st_size / 2**20:,.1f} MiB)", total=100)
        result = lakehouse.ingest(
            dataset,
            file,
            format=cast(Format, chosen),
            mode=cast(Mode, mode),
            key=keys,
            create=create,
            schema=schema,
            on_error=cast(OnError, on_error),
            progress=lambda percent: progress.update(task, completed=percent),
        )
    click.echo(result.summary().model_dump_json(indent=2))


@click.command()
@click.argument("query")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "ndjson", "csv", "parquet", "arrow"]), default="table"
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@click.option("--snapshot", type=int, help="Read every table as of this snapshot.")
@click.option("--max-rows", type=int, default=None, help="Most rows for table/json output.")
@settings_options
def sql(
    query: str,
    fmt: str,
    output: Path | None,
    snapshot: int | None,
    max_rows: int | None,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Run read-only SQL over the lake (the same sandbox as POST /v1/sql).

    \b
    Examples:
      lakehouse sql "SELECT count(*) FROM crm.customers"
      lakehouse sql "SELECT * FROM crm.customers" --format parquet --output customers.parquet
    """
    with open_lakehouse(config_path, data_dir) as lakehouse:
        if fmt in ("table", "json"):
            result = lakehouse.sql(query, snapshot=snapshot, max_rows=max_rows)
        else:
            _, chunks = lakehouse.queries.stream(query, fmt=fmt, snapshot=snapshot)
            target = output.open("wb") if output else sys.stdout.buffer
            try:
                for chunk in chunks:
                    target.write(chunk)
            finally:
                if output:
                    target.close()
            return
    if fmt == "json":
        text = json.dumps(result.to_dict(), indent=2)
        output.write_text(text) if output else click.echo(text)
        return
    table = Table(
        title=f"{len(result.rows)} row(s){' (truncated)' if result.truncated else ''}, snapshot {result.snapshot_id}"
    )
    for column in result.columns:
        table.add_column(column["name"])
    for row in result.rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    Console(file=output.open("w") if output else None).print(table)
