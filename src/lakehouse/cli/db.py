"""``lakehouse db``: operational DB migrations."""

from __future__ import annotations

import click

from lakehouse.cli._common import load, settings_options
from lakehouse.opsdb import create_engine, current_revision, upgrade


@click.group()
def db() -> None:
    """Operational DB maintenance."""


@db.command("upgrade")
@settings_options
def upgrade_cmd(config_path: str | None, data_dir: str | None) -> None:
    """Migrate the operational DB to the newest revision (serve also does this on start).

    \b
    Example:
      LAKEHOUSE_OPSDB__URL=postgresql+psycopg://postgres@127.0.0.1/lakehouse lakehouse db upgrade
    """
    settings = load(config_path, data_dir).settings
    engine = create_engine(settings.opsdb_url())
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"{engine.dialect.name} opsdb already at revision {after}")
    else:
        click.echo(f"{engine.dialect.name} opsdb upgraded from {before or 'empty'} to {after}")
