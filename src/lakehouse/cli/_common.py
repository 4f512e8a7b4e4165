"""What every command shares: the settings options, loading them, and turning errors into exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from lakehouse.config import LoadedSettings, load_settings
from lakehouse.errors import ConfigError, LakehouseError

if TYPE_CHECKING:
    from lakehouse.core import Lakehouse

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAIL = 1
EXIT_CONFIG = 2


def settings_options(fn: F) -> F:
    """Add --config and --data-dir to a command."""
    fn = click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Data directory (default ./lakehouse-data; env LAKEHOUSE_DATA_DIR).",
    )(fn)
    fn = click.option(
        "--config",
        "-c",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        envvar="LAKEHOUSE_CONFIG",
        help="lakehouse.toml to read (env LAKEHOUSE_CONFIG).",
    )(fn)
    return fn


def load(config_path: str | None, data_dir: str | None, **overrides: Any) -> LoadedSettings:
    """Settings from file < env < these flags; a bad setting exits 2 with the key's name."""
    try:
        return load_settings(config_path, {"data_dir": data_dir, **overrides})
    except ConfigError as exc:
        fail(exc)


def fail(exc: LakehouseError) -> NoReturn:
    """Print the error, and each of its items that says more than the whole (kind, where, why); exit 1 (2 for
    settings)."""
    click.echo(f"error: {exc.detail}", err=True)
    for item in exc.errors:
        if item.reason != exc.detail or "line" in item.extra or "row" in item.extra:
            change = item.extra.get("ctx", {}).get("change")  # breaking_change: which change
            note = f" ({change})" if change else ""
            for place in ("line", "row"):  # ingest: where in the input
                if place in item.extra:
                    note += f" ({place} {item.extra[place]})"
            click.echo(f"  {item.kind} at {item.field or '(request)'}: {item.reason}{note}", err=True)
    sys.exit(EXIT_CONFIG if isinstance(exc, ConfigError) else EXIT_FAIL)


def open_lakehouse(config_path: str | None, data_dir: str | None) -> Lakehouse:
    """The lakehouse the settings name, opened in this process; a settings or store error ends the command."""
    from lakehouse.core import Lakehouse

    return Lakehouse(load(config_path, data_dir).settings)
