"""``lakehouse config show``: the effective settings, where each came from, secrets redacted."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from lakehouse.cli._common import load, settings_options
from lakehouse.config import iter_settings


@click.group()
def config() -> None:
    """Inspect settings."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def show(as_json: bool, config_path: str | None, data_dir: str | None) -> None:
    """Print the effective settings and the source of each (default, file, env, flag).

    \b
    Example:
      LAKEHOUSE_SERVER__PORT=8080 lakehouse config show --json
    """
    loaded = load(config_path, data_dir)
    rows = [(key, value, loaded.source_of(key)) for key, value, _ in iter_settings(loaded.settings)]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "config_file": str(loaded.config_path) if loaded.config_path else None,
                    "settings": {key: {"value": value, "source": source} for key, value, source in rows},
                },
                indent=2,
                default=str,
            )
        )
        return
    table = Table(title="lakehouse settings" + (f" ({loaded.config_path})" if loaded.config_path else ""))
    for column in ("key", "value", "source"):
        table.add_column(column)
    for key, value, source in rows:
        table.add_row(key, "" if value is None else str(value), source)
    Console().print(table)
