"""``lakehouse doctor``: can this machine run a lakehouse with these settings?"""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from lakehouse.cli._common import settings_options
from lakehouse.config import load_settings
from lakehouse.doctor import run_checks


@click.command()
@click.option("--port", type=int, default=None, help="Port to check instead of server.port.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def doctor(port: int | None, as_json: bool, config_path: str | None, data_dir: str | None) -> None:
    """Check Python, packages, DuckDB extensions (offline), data dir, port, settings and stores.

    Exits 1 when any check fails.

    \b
    Example:
      lakehouse doctor --json
    """
    checks = run_checks(lambda: load_settings(config_path, {"data_dir": data_dir, "server.port": port}))
    if as_json:
        click.echo(json.dumps({"ok": all(c.ok for c in checks), "checks": [c.to_dict() for c in checks]}, indent=2))
    else:
        table = Table(title="lakehouse doctor")
        for column in ("check", "result", "detail", "fix"):
            table.add_column(column)
        for c in checks:
            table.add_row(c.name, "[green]PASS[/]" if c.ok else "[red]FAIL[/]", c.detail, c.fix)
        Console().print(table)
    if not all(c.ok for c in checks):
        sys.exit(1)
