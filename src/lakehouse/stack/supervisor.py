"""The supervisor of ``lakehouse up``: one ``lakehouse serve`` process per daemon on loopback, the gateway last.

- Start: every port is checked free and every store is reached (and migrated) once, before any process starts;
  then the daemons start together, each "up" when its ``/ready`` answers, and the gateway opens last.
- A process that exits is restarted after a backoff that doubles up to ``stack.restart_backoff_max_s``; one up for
  ``stack.stable_after_s`` starts again from the first wait. After ``stack.failing_after`` restarts in a row it is
  reported ``failing`` and still retried, while the gateway answers 503 ``service_unavailable`` for its routes.
- Stop (SIGTERM or Ctrl-C): the gateway drains first (no new requests come in), then the daemons drain; whatever has
  not ended after ``stack.drain_timeout_s`` is killed, and so is everything at a second signal.
- One log stream: every child's lines come out on this process's stderr, each a JSON object naming its ``service``.
- The children die with the supervisor (``PR_SET_PDEATHSIG`` on Linux) and have their own process group, so a
  terminal's Ctrl-C reaches the supervisor only, and the stop keeps its order.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from lakehouse.config import LoadedSettings, Settings
from lakehouse.errors import ConfigError, ErrorItem, StoreUnavailable
from lakehouse.stack_state import ChildState, ChildStatus, StackState, write_state

_log = logging.getLogger("lakehouse.stack")
EXIT_CONFIG = 2  # a child that exits with this at its first start has bad settings: the stack does not start

Command = Callable[[str, int], list[str]]


def child_command(loaded: LoadedSettings) -> Command:
    """``lakehouse serve`` for one process of the stack, over the same settings (file, data dir; the environment
    is inherited)."""
    settings = loaded.settings
    common = ["--data-dir", str(settings.data_dir.resolve())]
    if loaded.config_path is not None:
        common += ["--config", str(loaded.config_path)]

    def command(name: str, port: int) -> list[str]:
        role = (
            ["--gateway"] if name == "gateway" else ["--only", name, "--behind-gateway", "--host", settings.stack.host]
        )
        return [sys.executable, "-m", "lakehouse", "serve", *role, "--port", str(port), *common]

    return command


@dataclass
class _Child:
    name: str
    host: str
    port: int
    proc: asyncio.subprocess.Process | None = None
    state: ChildStatus = "stopped"
    started_at: float | None = None
    started_mono: float = 0.0
    restarts: int = 0
    in_row: int = 0
    exit_code: int | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def report(self) -> ChildState:
        return ChildState(
            name=self.name,
            host=self.host,
            port=self.port,
            pid=self.proc.pid if self.proc is not None and self.proc.returncode is None else None,
            state=self.state,
            started_at=self.started_at,
            restarts=self.restarts,
            exit_code=self.exit_code,
        )


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on it now (with SO_REUSEADDR, as uvicorn does: closed connections do not count)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Supervisor:
    """Runs the stack ``settings`` describe until told to stop. ``command(name, port)`` is a child's argv."""

    def __init__(
        self,
        settings: Settings,
        command: Command,
        *,
        env: dict[str, str] | None = None,
        out: IO[str] | None = None,
        check_stores: bool = True,
    ) -> None:
        self.settings = settings
        self.stack = settings.stack
        self.command = command
        self.secret = self.stack.secret.get_secret_value() if self.stack.secret is not None else ""
        self.env = env if env is not None else dict(os.environ)
        self.out = out or sys.stderr
        self.check_stores = check_stores
        self.state_path = settings.in_data_dir(self.stack.state_file)
        self.gateway = _Child("gateway", settings.server.host, settings.server.port)
        self.daemons = [_Child(name, self.stack.host, self.stack.port(name)) for name in self.stack.services]
        self.children = [*self.daemons, self.gateway]
        self.stopping = asyncio.Event()
        self.killing = False
        self.started_at = time.time()
        self.start_error: ConfigError | None = None

    # -- start ---------------------------------------------------------------------------------------------------

    def _check_ports(self) -> None:
        taken = [c for c in self.children if not port_free(c.host, c.port)]
        if taken:
            items = [
                ErrorItem(kind="config_error", field=c.name, reason=f"port {c.port} ({c.name}) is already in use")
                for c in taken
            ]
            raise ConfigError(
                "; ".join(i.reason for i in items) + " (stop what holds it, or set stack.base_port / server.port)",
                errors=items,
            )

    async def _check_stores(self) -> None:
        """Reach every store (and bring the operational DB's tables up to date) once, before any daemon starts."""
        from lakehouse.core import Lakehouse

        lakehouse = await asyncio.to_thread(Lakehouse, self.settings)
        try:
            checks = await lakehouse.readiness()
        finally:
            await asyncio.to_thread(lakehouse.close)
        failed = {name: check for name, check in checks.items() if not check.ok}
        if failed:
            raise StoreUnavailable(
                f"the stack did not start: {', '.join(failed)} unreachable",
                errors=[ErrorItem(kind="store_unavailable", field=n, reason=str(c.error)) for n, c in failed.items()],
            )

    async def start(self) -> None:
        """Start every process, the gateway once the daemons are up (or given up on for now)."""
        self._check_ports()
        if self.check_stores:
            await self._check_stores()
        for child in self.daemons:
            child.tasks.append(asyncio.create_task(self._keep(child)))
        await self._wait_ready(self.daemons)
        self._fail_on_config_error()
        not_up = [c.name for c in self.daemons if c.state != "up"]
        if not_up:
            _log.error("not up after %.0f s: %s; the stack serves the rest", self.stack.start_timeout_s, not_up)
        self.gateway.tasks.append(asyncio.create_task(self._keep(self.gateway)))
        await self._wait_ready([self.gateway])
        self._fail_on_config_error()
        if self.gateway.state != "up":
            raise StoreUnavailable(f"the gateway did not become ready on port {self.gateway.port}")
        _log.info(
            "stack up: gateway on http://%s:%d, %d daemon(s) up of %d",
            self.gateway.host,
            self.gateway.port,
            len(self.daemons) - len(not_up),
            len(self.daemons),
        )
        self._write_state()

    def _fail_on_config_error(self) -> None:
        if self.start_error is not None:
            raise self.start_error

    async def _wait_ready(self, children: Sequence[_Child]) -> None:
        async def all_ready() -> None:
            for child in children:
                await child.ready.wait()

        ready = asyncio.create_task(all_ready())
        stop = asyncio.create_task(self.stopping.wait())
        try:
            await asyncio.wait([ready, stop], timeout=self.stack.start_timeout_s, return_when="FIRST_COMPLETED")
        finally:
            ready.cancel()
            stop.cancel()

    # -- keep running ------------------------------------------------------------------------------------------

    async def _spawn(self, child: _Child) -> asyncio.subprocess.Process:
        env = {**self.env, "LAKEHOUSE_STACK__SECRET": self.secret}
        proc = await asyncio.create_subprocess_exec(
            *self.command(child.name, child.port),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            limit=1024 * 1024,
            process_group=0,
            preexec_fn=_set_pdeathsig if sys.platform == "linux" else None,
        )
        child.proc = proc
        child.state = "starting"
        child.started_at = time.time()
        child.started_mono = time.monotonic()
        child.ready.clear()
        self._write_state()
        return proc

    async def _keep(self, child: _Child) -> None:
        """Run one child for the life of the stack: spawn, wait for ready, and restart with backoff when it exits."""
        first = True
        while not self.stopping.is_set():
            proc = await self._spawn(child)
            relay = asyncio.create_task(self._relay(child, proc))
            probe = asyncio.create_task(self._probe(child, proc))
            code = await proc.wait()
            probe.cancel()
            await relay
            child.exit_code = code
            if self.stopping.is_set():
                break
            if first and code == EXIT_CONFIG and not child.ready.is_set():
                self.start_error = ConfigError(f"{child.name} refused its settings at start (see its log lines)")
                child.state = "failing"
                child.ready.set()  # wakes the start, which gives up
                return
            first = False
            if time.monotonic() - child.started_mono >= self.stack.stable_after_s:
                child.in_row = 0
            child.in_row += 1
            child.restarts += 1
            delay = min(self.stack.restart_backoff_max_s, self.stack.restart_backoff_s * 2 ** (child.in_row - 1))
            child.state = "failing" if child.in_row >= self.stack.failing_after else "restarting"
            level = logging.ERROR if child.state == "failing" else logging.WARNING
            _log.log(level, "%s exited (%s); restart %d in %.2f s", child.name, code, child.restarts, delay)
            self._write_state()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
        child.state = "stopped"
        self._write_state()

    async def _probe(self, child: _Child, proc: asyncio.subprocess.Process) -> None:
        """Ask the new process's /ready until it answers 200; then it is up."""
        url = f"http://{'[' + child.host + ']' if ':' in child.host else child.host}:{child.port}/ready"
        async with httpx.AsyncClient(timeout=2.0) as client:
            while proc.returncode is None:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        child.state = "up"
                        child.ready.set()
                        self._write_state()
                        _log.info("%s up on port %d (pid %d)", child.name, child.port, proc.pid)
                        return
                await asyncio.sleep(0.1)

    async def _relay(self, child: _Child, proc: asyncio.subprocess.Process) -> None:
        """Copy the child's output to ours, a line at a time; a line that is not JSON (a crash's traceback) is
        wrapped in one that names the service."""
        assert proc.stdout is not None
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # a line past the limit: skip to its end
                continue
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not line.startswith("{"):
                line = json.dumps({"level": "info", "service": child.name, "logger": "output", "msg": line})
            self.out.write(line + "\n")
            self.out.flush()

    # -- stop ----------------------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """The first signal drains and stops; a second kills."""
        if self.stopping.is_set():
            self.kill()
            return
        _log.info("stopping: draining the gateway, then the daemons (a second signal kills)")
        self.stopping.set()

    def kill(self) -> None:
        self.killing = True
        for child in self.children:
            if child.proc is not None and child.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.kill()

    async def _terminate(self, children: Sequence[_Child], deadline: float) -> None:
        live = [c.proc for c in children if c.proc is not None and c.proc.returncode is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        if not live:
            return
        waits = [asyncio.create_task(proc.wait()) for proc in live]
        _, pending = await asyncio.wait(waits, timeout=max(0.0, deadline - time.monotonic()))
        if pending:
            _log.warning("killing %d process(es) that did not drain in time", len(pending))
            for proc in live:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await asyncio.wait(pending)

    async def stop(self) -> None:
        """Drain the gateway, then the daemons; kill what outlives ``stack.drain_timeout_s``."""
        self.stopping.set()
        deadline = time.monotonic() + self.stack.drain_timeout_s
        await self._terminate([self.gateway], deadline)
        await self._terminate(self.daemons, deadline)
        tasks = [task for child in self.children for task in child.tasks]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._write_state()

    async def run(self) -> None:
        """Start, serve until SIGTERM or SIGINT, and stop (in the foreground: `lakehouse up`)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            try:
                await self.start()
            except BaseException:
                await self.stop()
                raise
            await self.stopping.wait()
            await self.stop()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    # -- report --------------------------------------------------------------------------------------------------

    def state(self) -> StackState:
        return StackState(
            supervisor_pid=os.getpid(),
            running=not self.stopping.is_set(),
            started_at=self.started_at,
            gateway_url=f"http://{self.gateway.host}:{self.gateway.port}",
            processes=[c.report() for c in self.children],
        )

    def _write_state(self) -> None:
        with contextlib.suppress(OSError):
            write_state(Path(self.state_path), self.state())
