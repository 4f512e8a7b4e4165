"""``lakehouse up``, ``lakehouse status`` and ``lakehouse deploy systemd``: the persistent stack, thin over
``lakehouse.stack``."""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from pathlib import Path

import click
import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from lakehouse.cli._common import load, settings_options
from lakehouse.server import check_bind
from lakehouse.server.logs import configure_logging
from lakehouse.stack import StackState, Supervisor, child_command, read_state, systemd_units
from lakehouse.stack.systemd import write_units


@click.command()
@click.option("--port", type=int, default=None, help="The gateway's port (default server.port, 3100).")
@settings_options
def up(port: int | None, config_path: str | None, data_dir: str | None) -> None:
    """Run the stack: one process per daemon on loopback, the gateway on server.host:server.port.

    Daemons are started once every store answers; the gateway opens when they are up. A daemon that exits is
    restarted with backoff. SIGTERM or Ctrl-C drains and stops everything (a second one kills).

    \b
    Examples:
      lakehouse up -c deploy/lakehouse.toml
      lakehouse up --data-dir ./lakehouse-data --port 3100
    """
    loaded = load(config_path, data_dir, **{"server.port": port})
    secret = secrets.token_urlsafe(32)  # a new one each start: nothing but this stack's gateway reaches its daemons
    loaded.settings = loaded.settings.model_copy(
        update={"stack": loaded.settings.stack.model_copy(update={"secret": SecretStr(secret)})}
    )
    settings = loaded.settings
    check_bind(settings.server.host, settings.auth.enabled)
    check_bind(settings.stack.host, settings.auth.enabled)
    configure_logging(settings.server.log_level, "stack")
    supervisor = Supervisor(settings, child_command(loaded))
    asyncio.run(supervisor.run())


def _health(state: StackState) -> StackState:
    """Ask each live process's /health (a second at most each)."""
    processes = []
    with httpx.Client(timeout=1.0) as client:
        for p in state.processes:
            health = None
            if state.running:
                host = f"[{p.host}]" if ":" in p.host else p.host
                try:
                    ok = client.get(f"http://{host}:{p.port}/health").status_code == 200
                except httpx.HTTPError:
                    ok = False
                health = "ok" if ok else "down"
            processes.append(p.model_copy(update={"health": health}))
    return state.model_copy(update={"processes": processes})


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def status(as_json: bool, config_path: str | None, data_dir: str | None) -> None:
    """Show each process of the stack: pid, port, state, uptime, restarts and health.

    Exits 1 when no stack runs over this data dir, or when a process is not up.

    \b
    Example:
      lakehouse status -c deploy/lakehouse.toml --json
    """
    settings = load(config_path, data_dir).settings
    state = read_state(settings.in_data_dir(settings.stack.state_file))
    if state is None:
        click.echo("error: no stack has run over this data dir (start one with `lakehouse up`)", err=True)
        sys.exit(1)
    state = _health(state)
    healthy = state.running and all(p.state == "up" and p.health == "ok" for p in state.processes)
    if as_json:
        click.echo(state.model_dump_json(indent=2))
    else:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(state.started_at))
        title = (
            f"stack {'running' if state.running else 'stopped'} (supervisor pid {state.supervisor_pid}, {since} UTC)"
        )
        table = Table(title=title)
        for column in ("process", "pid", "port", "state", "uptime", "restarts", "health"):
            table.add_column(column)
        for p in state.processes:
            uptime = f"{p.uptime_s:.0f}s" if p.uptime_s is not None else "-"
            color = "green" if p.state == "up" else "red"
            table.add_row(
                p.name,
                str(p.pid or "-"),
                str(p.port),
                f"[{color}]{p.state}[/]",
                uptime,
                str(p.restarts),
                p.health or "-",
            )
        Console().print(table)
    if not healthy:
        sys.exit(1)


@click.group()
def deploy() -> None:
    """Deployment files written from the settings."""


@deploy.command("systemd")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Directory to write into.")
@click.option(
    "--exec",
    "executable",
    default="/opt/lakehouse/venv/bin/lakehouse",
    show_default=True,
    help="The installed `lakehouse` command.",
)
@click.option("--user", default="lakehouse", show_default=True, help="The user the processes run as.")
@click.option(
    "--etc",
    default="/etc/lakehouse",
    show_default=True,
    help="Where lakehouse.toml, lakehouse.env and stack.env are installed.",
)
@settings_options
def deploy_systemd(
    out_dir: str, executable: str, user: str, etc: str, config_path: str | None, data_dir: str | None
) -> None:
    """Write one systemd unit per daemon, the gateway's, a migration one-shot, lakehouse.target and stack.env.

    \b
    Example:
      lakehouse deploy systemd -c deploy/lakehouse.toml --out /tmp/units
      sudo cp /tmp/units/*.service /tmp/units/lakehouse.target /etc/systemd/system/
      sudo install -m 600 /tmp/units/stack.env /etc/lakehouse/stack.env
      sudo systemctl daemon-reload && sudo systemctl enable --now lakehouse.target
    """
    loaded = load(config_path, data_dir)
    files = systemd_units(
        loaded.settings,
        config=f"{etc}/lakehouse.toml",
        executable=executable,
        env_file=f"{etc}/lakehouse.env",
        stack_env_file=f"{etc}/stack.env",
        user=user,
    )
    for path in write_units(files, Path(out_dir)):
        click.echo(str(path))
