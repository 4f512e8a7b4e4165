"""``lakehouse keys``: create, list and revoke API keys in the operational DB."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from lakehouse.cli._common import load, settings_options
from lakehouse.core import Lakehouse


@click.group()
def keys() -> None:
    """Manage API keys."""


def _open(config_path: str | None, data_dir: str | None) -> Lakehouse:
    return Lakehouse(load(config_path, data_dir).settings)


@keys.command("create")
@click.option("--name", required=True, help="Unique name among active keys.")
@click.option("--scopes", required=True, help="Comma-separated: read, write, sql, admin.")
@click.option("--tenant", default=None, help="Bind the key to this memory tenant (its memory, pathways, playbooks).")
@click.option("--namespaces", default=None, help="Bind the key to these comma-separated lake namespaces.")
@settings_options
def create(
    name: str,
    scopes: str,
    tenant: str | None,
    namespaces: str | None,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Create a key and print it once (only its hash is stored).

    \b
    Example:
      lakehouse keys create --name etl --scopes read,write
      lakehouse keys create --name acme-agent --scopes read,write,sql --tenant acme --namespaces crm,support
    """
    with _open(config_path, data_dir) as lakehouse:
        created = lakehouse.keys.create(name, scopes, tenant=tenant, namespaces=namespaces)
    click.echo(created.secret)
    bound = ""
    if created.key.tenant is not None:
        bound += f", bound to tenant {created.key.tenant!r}"
    if created.key.namespaces is not None:
        bound += f", bound to namespaces {','.join(created.key.namespaces)}"
    click.echo(
        f"created key {name!r} with scopes {','.join(created.key.scopes)}{bound}; it is shown only this once",
        err=True,
    )


@keys.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def list_(include_revoked: bool, as_json: bool, config_path: str | None, data_dir: str | None) -> None:
    """List keys (never their secrets).

    \b
    Example:
      lakehouse keys list --json
    """
    with _open(config_path, data_dir) as lakehouse:
        keys = lakehouse.keys.list(include_revoked)
    if as_json:
        click.echo(json.dumps([k.model_dump(mode="json") for k in keys], indent=2))
        return
    table = Table(title="API keys")
    for column in ("name", "prefix", "scopes", "tenant", "namespaces", "created_at", "last_used_at", "revoked_at"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.name,
            f"lh_{key.prefix}…",
            ",".join(key.scopes),
            key.tenant or "",
            ",".join(key.namespaces or []),
            key.created_at.isoformat(),
            key.last_used_at.isoformat() if key.last_used_at else "",
            key.revoked_at.isoformat() if key.revoked_at else "",
        )
    Console().print(table)


@keys.command("revoke")
@click.argument("name")
@settings_options
def revoke(name: str, config_path: str | None, data_dir: str | None) -> None:
    """Revoke the active key NAME; requests with it get 401 from then on.

    \b
    Example:
      lakehouse keys revoke etl
    """
    with _open(config_path, data_dir) as lakehouse:
        lakehouse.keys.revoke(name)
    click.echo(f"revoked key {name!r}")
