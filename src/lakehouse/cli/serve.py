"""``lakehouse serve``: every service (or --only some) on one port under uvicorn."""

from __future__ import annotations

import logging

import click
import uvicorn

from lakehouse.app import create_app
from lakehouse.cli._common import load, settings_options
from lakehouse.core import Lakehouse
from lakehouse.server import check_bind
from lakehouse.server.logs import configure_logging
from lakehouse.services import SERVICES


@click.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1; non-loopback needs auth).")
@click.option("--port", type=int, default=None, help="Port to bind (default 3100).")
@click.option(
    "--only",
    default=None,
    metavar="NAME[,NAME]",
    help=f"Serve only these services ({', '.join(SERVICES)}).",
)
@click.option("--auth", is_flag=True, default=None, help="Require API keys on /v1/ routes.")
@click.option(
    "--gateway",
    is_flag=True,
    help="Be the gateway of a stack: forward the routes of stack.services to their daemons (needs stack.secret).",
)
@click.option(
    "--behind-gateway",
    is_flag=True,
    help="Be a daemon of a stack: answer only requests the gateway forwards (needs stack.secret).",
)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default=None)
@settings_options
def serve(
    host: str | None,
    port: int | None,
    only: str | None,
    auth: bool | None,
    gateway: bool,
    behind_gateway: bool,
    log_level: str | None,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Serve the lakehouse over HTTP.

    \b
    Examples:
      lakehouse serve
      lakehouse serve --only storaged --port 3201
      lakehouse serve --host 0.0.0.0 --auth --config lakehouse.toml

    `lakehouse up` runs the same command once per daemon (--only NAME --behind-gateway) and once for the gateway
    (--gateway); a systemd unit from `lakehouse deploy systemd` does too.
    """
    loaded = load(
        config_path,
        data_dir,
        **{"server.host": host, "server.port": port, "auth.enabled": auth, "server.log_level": log_level},
    )
    settings = loaded.settings
    services = [s.strip() for s in only.split(",") if s.strip()] if only else None
    if gateway and (services or behind_gateway):
        raise click.UsageError("--gateway serves the gateway; it takes neither --only nor --behind-gateway")
    check_bind(settings.server.host, settings.auth.enabled)
    configure_logging(settings.server.log_level, "gateway" if gateway else (only if behind_gateway else None))
    lakehouse = Lakehouse(settings)
    app = create_app(
        settings,
        services,
        lakehouse=lakehouse,
        close_stores=True,
        gateway=gateway,
        behind_gateway=behind_gateway,
    )
    log = logging.getLogger("lakehouse.serve")
    if settings.auth.enabled and not lakehouse.keys.list():
        log.warning("auth is on and no API key exists: create one with `lakehouse keys create`")
    log.info(
        "serving %s on http://%s:%d (data dir %s, auth %s)",
        ",".join(app.state.services),
        settings.server.host,
        settings.server.port,
        settings.data_dir,
        "on" if settings.auth.enabled else "off",
    )
    # the app closes the stores when it shuts down (after the requests drain): uvicorn then re-raises the signal
    # that stopped it, so nothing after run() would run
    uvicorn.run(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        access_log=False,
        server_header=False,
        log_level=settings.server.log_level,
    )
