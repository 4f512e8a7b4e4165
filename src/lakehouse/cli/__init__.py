"""The ``lakehouse`` command: thin over the library; errors become clean messages and exit codes."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli._common import fail
from lakehouse.cli.backup_cmd import backup, restore
from lakehouse.cli.config_cmd import config
from lakehouse.cli.db import db
from lakehouse.cli.doctor_cmd import doctor
from lakehouse.cli.keys import keys
from lakehouse.cli.lake_cmd import lake
from lakehouse.cli.memory_cmd import memory, playbooks
from lakehouse.cli.observe_cmd import observe, traces
from lakehouse.cli.replay_cmd import cases, diff, parity, record, replay_cmd
from lakehouse.cli.schemas_cmd import schemas, validate
from lakehouse.cli.serve import serve
from lakehouse.cli.stack_cmd import deploy, status, up
from lakehouse.cli.tables import datasets, ingest, sql
from lakehouse.cli.vectors_cmd import collections, search
from lakehouse.cli.verify_cmd import verify
from lakehouse.errors import LakehouseError
from lakehouse.version import __version__


class Commands(click.Group):
    """The root group: the one place a library error becomes a clean message and an exit code (``fail``)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LakehouseError as exc:
            fail(exc)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lakehouse")
def cli() -> None:
    """Lakehouse: a data and memory substrate for AI agents.

    \b
    Example:
      lakehouse serve --data-dir ./lakehouse-data
    """


for command in (
    serve,
    up,
    status,
    deploy,
    backup,
    restore,
    config,
    keys,
    db,
    doctor,
    verify,
    datasets,
    ingest,
    sql,
    lake,
    collections,
    search,
    memory,
    playbooks,
    schemas,
    validate,
    traces,
    observe,
    replay_cmd,
    diff,
    parity,
    cases,
    record,
):
    cli.add_command(command)


def main() -> None:
    cli(standalone_mode=True)


__all__ = ["cli", "main"]
