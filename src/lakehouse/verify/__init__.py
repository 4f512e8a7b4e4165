"""``lakehouse verify``: the smoke chain, against a running server or an ephemeral one it starts."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from lakehouse.app import create_app
from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.verify import front_smokes as front_smokes  # each module registers its smokes as it is imported
from lakehouse.verify import memory_smokes as memory_smokes  # registers its smokes after the chain's own
from lakehouse.verify import observe_smokes as observe_smokes  # after memory's (in import order)
from lakehouse.verify import replay_smokes as replay_smokes
from lakehouse.verify import stack_smokes as stack_smokes  # run only when the target is a stack's gateway
from lakehouse.verify import validation_smokes as validation_smokes  # and these after those
from lakehouse.verify.chain import SMOKES, Outcome, Target, run_chain
from lakehouse.verify.ephemeral import ServerThread

__all__ = ["SMOKES", "Outcome", "ServerThread", "Target", "run_chain", "verify_ephemeral", "verify_url"]


def verify_url(url: str, api_key: str | None, echo: Callable[[str], None] = print) -> list[Outcome]:
    """Run the chain against a running server (auth-on smokes need an admin key; a stack's gateway gets the stack's
    smokes too)."""
    target = Target(auth_url=url, admin_key=api_key) if api_key else Target(open_url=url)
    with target.client(url, api_key) as c:
        try:
            target.stack = c.get("/v1/stack").status_code == 200
        except httpx.HTTPError:
            target.stack = False
    return run_chain(target, echo)[0]


def verify_ephemeral(echo: Callable[[str], None] = print) -> list[Outcome]:
    """Start an auth-off and an auth-on server on free ports over temp data dirs and run the chain."""
    logger = logging.getLogger("lakehouse")
    level = logger.level
    logger.setLevel(logging.WARNING)  # the chain's lines are the output, not the servers' access logs
    try:
        return _run_ephemeral(echo)
    finally:
        logger.setLevel(level)


def _run_ephemeral(echo: Callable[[str], None]) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="lakehouse-verify-") as tmp:
        open_settings = Settings.model_validate(
            {"data_dir": Path(tmp) / "open", "observe": {"self": True}, "record": {"enabled": True, "flush_ms": 50}}
        )
        auth_settings = Settings.model_validate({"data_dir": Path(tmp) / "auth", "auth": {"enabled": True}})
        opened = [Lakehouse(open_settings)]
        servers = [ServerThread(create_app(open_settings, lakehouse=opened[0])).start()]

        def restart() -> str:
            """Stop the auth-off server and its stores, then open them again on the same data dir."""
            servers[-1].stop()
            opened[-1].close()
            opened.append(Lakehouse(open_settings))
            servers.append(ServerThread(create_app(open_settings, lakehouse=opened[-1])).start())
            return servers[-1].url

        try:
            with Lakehouse(auth_settings) as auth_lh:
                admin = auth_lh.keys.create("verify-admin", ["admin"]).secret
                with ServerThread(create_app(auth_settings, lakehouse=auth_lh)) as auth_server:
                    target = Target(open_url=servers[0].url, auth_url=auth_server.url, admin_key=admin, restart=restart)
                    return run_chain(target, echo)[0]
        finally:
            servers[-1].stop()
            opened[-1].close()
