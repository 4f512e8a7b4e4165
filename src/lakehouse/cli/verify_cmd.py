"""``lakehouse verify``: the smoke chain over real HTTP."""

from __future__ import annotations

import sys

import click

from lakehouse.verify import verify_ephemeral, verify_url


@click.command()
@click.option("--url", default=None, help="A running server; without it an ephemeral one is started.")
@click.option("--api-key", default=None, envvar="LAKEHOUSE_API_KEY", help="Admin key for a server with auth on.")
def verify(url: str | None, api_key: str | None) -> None:
    """Run the numbered end-to-end smokes; the last line is `N/N PASS in X.Xs`. Exits 1 on any FAIL.

    \b
    Examples:
      lakehouse verify
      lakehouse verify --url http://127.0.0.1:3100 --api-key lh_...
    """
    outcomes = verify_url(url, api_key, click.echo) if url else verify_ephemeral(click.echo)
    if not all(o.ok for o in outcomes):
        sys.exit(1)
