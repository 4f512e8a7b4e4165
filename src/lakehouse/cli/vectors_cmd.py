"""``lakehouse collections`` and ``lakehouse search``: vector collections from the command line, in-process."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from lakehouse.cli._common import open_lakehouse, settings_options


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def collections(name: str | None, as_json: bool, config_path: str | None, data_dir: str | None) -> None:
    """List vector collections, or describe one (count, index, memory).

    \b
    Examples:
      lakehouse collections
      lakehouse collections faq --json
    """
    with open_lakehouse(config_path, data_dir) as lakehouse:
        if name:
            described = lakehouse.vectors.describe(name)
            if as_json:
                click.echo(described.model_dump_json(indent=2))
            else:
                click.echo(
                    f"{described.name}: {described.count} points, {described.dim} dims, "
                    f"{described.metric}, embedder {described.embedder or '(default)'}, "
                    f"index {described.index.kind} at snapshot {described.index.snapshot_id}, "
                    f"{described.memory_bytes} bytes in memory"
                )
            return
        found = [c.model_dump(mode="json") for c in lakehouse.vectors.list_collections(limit=100_000)]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    table = Table(title="collections")
    for column in ("collection", "dim", "metric", "embedder"):
        table.add_column(column)
    for c in found:
        table.add_row(c["name"], str(c["dim"]), c["metric"], c["embedder"] or "(default)")
    Console().print(table)


@click.command()
@click.argument("collection")
@click.argument("text", required=False)
@click.option("--vector", help="Search by this vector (a JSON list) instead of a text.")
@click.option("--filter", "filter_json", help='Metadata filter (JSON), e.g. \'{"lang": "en"}\'.')
@click.option("-k", "k", type=int, default=10, show_default=True, help="How many results.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def search(
    collection: str,
    text: str | None,
    vector: str | None,
    filter_json: str | None,
    k: int,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Nearest points of COLLECTION to TEXT (embedded by the collection's embedder) or to --vector.

    \b
    Examples:
      lakehouse search faq "when do I get my money back?"
      lakehouse search faq "refund" --filter '{"lang": "en"}' -k 3 --json
    """

    def parsed(raw: str | None, option: str) -> Any:
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint=option) from exc

    query_vector, spec = parsed(vector, "--vector"), parsed(filter_json, "--filter")
    with open_lakehouse(config_path, data_dir) as lakehouse:
        found = lakehouse.vectors.search(collection, vector=query_vector, text=text, k=k, filter=spec)
    rows: list[dict[str, Any]] = [
        {"id": p.id, "score": score, "metadata": p.metadata, "text": p.text} for p, score in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{collection}: {len(rows)} results")
    for column in ("id", "score", "text", "metadata"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["id"], f"{row['score']:.4f}", (row["text"] or "")[:60], json.dumps(row["metadata"])[:60])
    Console().print(table)
