"""``lakehouse backup DEST``, ``lakehouse backup verify SRC`` and ``lakehouse restore SRC``: thin over
``lakehouse.backup``."""

from __future__ import annotations

import click

from lakehouse.backup import restore_backup, take_backup, verify_backup
from lakehouse.cli._common import load, settings_options


class _DefaultCreate(click.Group):
    """``lakehouse backup DEST`` is ``lakehouse backup create DEST``; ``verify`` is the other subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultCreate)
def backup() -> None:
    """Back up the whole lakehouse while it serves, or check a backup.

    \b
    Examples:
      lakehouse backup ./backups/2026-12-07                 # a directory
      lakehouse backup ./backups/2026-12-07.tar.zst         # one archive
      lakehouse backup s3://my-bucket/backups/2026-12-07    # under an S3 prefix (storage.s3's connection)
      lakehouse backup verify ./backups/2026-12-07.tar.zst
    """


@backup.command("create")
@click.argument("destination")
@click.option("--no-vector-indexes", is_flag=True, help="Leave out saved ANN indexes (a restore rebuilds them).")
@settings_options
def create(destination: str, no_vector_indexes: bool, config_path: str | None, data_dir: str | None) -> None:
    """Back up to DESTINATION: a new directory, a .tar.zst file or an s3:// prefix.

    \b
    Example:
      lakehouse backup create ./backups/today.tar.zst --data-dir ./lakehouse-data
    """
    settings = load(config_path, data_dir).settings
    manifest = take_backup(settings, destination, vector_indexes=not no_vector_indexes)
    rows = sum(manifest.opsdb_rows.values())
    click.echo(
        f"backed up to {destination}: point {manifest.created_at.isoformat(timespec='seconds')}, "
        f"{rows} operational rows, lake snapshot {manifest.lake_snapshot_id} ({manifest.lake_files} files), "
        f"{manifest.blobs} blobs, {len(manifest.files)} files checksummed"
    )


@backup.command("verify")
@click.argument("source")
@settings_options
def verify(source: str, config_path: str | None, data_dir: str | None) -> None:
    """Check every file of the backup at SOURCE against its manifest (size and SHA-256). Exits 1 if any differs.

    \b
    Example:
      lakehouse backup verify ./backups/today.tar.zst
    """
    manifest = verify_backup(source, load(config_path, data_dir).settings)
    click.echo(f"ok: {len(manifest.files)} files match the manifest of {manifest.created_at.isoformat()}")


@click.command()
@click.argument("source")
@settings_options
def restore(source: str, config_path: str | None, data_dir: str | None) -> None:
    """Restore the backup at SOURCE into an empty lakehouse (--data-dir NEW, or the stores the settings name).

    The backup is checked whole before anything is written; a restore never goes into a lakehouse that holds
    anything, and one that fails while writing removes what it wrote.

    \b
    Example:
      lakehouse restore ./backups/today.tar.zst --data-dir ./restored
    """
    report = restore_backup(source, load(config_path, data_dir).settings)
    click.echo(
        f"restored {sum(report.opsdb_rows.values())} operational rows, lake snapshot {report.lake_snapshot_id} "
        f"({report.lake_files} files), {report.blobs} blobs"
    )
