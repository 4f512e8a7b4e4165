"""``lakehouse lake``: maintenance of the table lake (flush, compact, expire, clean up)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from lakehouse.cli._common import load, settings_options
from lakehouse.core import Lakehouse
from lakehouse.tables import maintenance


@click.group()
def lake() -> None:
    """Maintain the table lake."""


def _run(config_path: str | None, data_dir: str | None, action: Callable[[Lakehouse], dict[str, Any]]) -> None:
    with Lakehouse(load(config_path, data_dir).settings) as lakehouse:
        summary = action(lakehouse)
    click.echo(json.dumps(summary, indent=2))


@lake.command("checkpoint")
@settings_options
def checkpoint_cmd(config_path: str | None, data_dir: str | None) -> None:
    """Flush inlined rows to Parquet, then merge small files.

    \b
    Example:
      lakehouse lake checkpoint
    """
    _run(config_path, data_dir, lambda lh: maintenance.checkpoint(lh.lake))


@lake.command("compact")
@settings_options
def compact_cmd(config_path: str | None, data_dir: str | None) -> None:
    """Merge adjacent small files of every dataset.

    \b
    Example:
      lakehouse lake compact
    """
    _run(config_path, data_dir, lambda lh: maintenance.compact(lh.lake))


@lake.command("expire")
@click.option("--older-than", required=True, help="30s, 15m, 12h, 7d, 2w.")
@settings_options
def expire_cmd(older_than: str, config_path: str | None, data_dir: str | None) -> None:
    """Expire snapshots older than a duration: time travel before them ends.

    \b
    Example:
      lakehouse lake expire --older-than 7d
    """
    _run(config_path, data_dir, lambda lh: maintenance.expire(lh.lake, maintenance.parse_duration(older_than)))


@lake.command("cleanup")
@click.option("--older-than", default="1h", show_default=True, help="Only files unreferenced for this long.")
@settings_options
def cleanup_cmd(older_than: str, config_path: str | None, data_dir: str | None) -> None:
    """Delete data files no snapshot needs any more, and orphaned files.

    \b
    Example:
      lakehouse lake cleanup --older-than 1d
    """
    _run(config_path, data_dir, lambda lh: maintenance.cleanup(lh.lake, maintenance.parse_duration(older_than)))
