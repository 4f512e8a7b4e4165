"""What a running stack reports about itself: the supervisor of ``lakehouse up`` writes ``StackState`` to
``stack.state_file`` at each change; ``lakehouse status`` and the gateway's ``GET /v1/stack`` read it, and
``POST /v1/stack/restart`` (``RestartDaemon`` -> ``DaemonRestarted``) stops a daemon for the supervisor to restart."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field

from lakehouse.wire import Answer, WireModel

DaemonName = Literal[
    "storaged", "catalogd", "ingestd", "queryd", "embedd", "vectord", "pathwayd", "validatord", "observerd"
]

# starting: spawned, not ready yet; up: its /ready answered; restarting: exited, waiting out its backoff;
# failing: exited `stack.failing_after` times in a row (still restarted, at the longest backoff); stopped.
ChildStatus = Literal["starting", "up", "restarting", "failing", "stopped"]


class ChildState(Answer):
    """One process of the stack: the gateway or a daemon."""

    name: str
    host: str
    port: int
    pid: int | None = Field(description="The live process's id (None while it waits to restart).")
    state: ChildStatus
    started_at: float | None = Field(description="When the live process started (Unix seconds).")
    restarts: int = Field(description="How many times it was restarted since `lakehouse up`.")
    exit_code: int | None = Field(None, description="How its last process ended (negative: by that signal).")
    health: Literal["ok", "down"] | None = Field(None, description="Its /health when `lakehouse status` asked.")
    uptime_s: float | None = Field(None, description="Seconds since its process started, as of `lakehouse status`.")


class StackState(Answer):
    """The whole stack as its supervisor last wrote it."""

    supervisor_pid: int
    running: bool = Field(description="Whether the supervisor's process is alive (false: a stale file).")
    started_at: float
    gateway_url: str
    processes: list[ChildState]


class RestartDaemon(WireModel):
    """Which daemon to stop; the supervisor starts it again after its backoff."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"service": "queryd"}]})

    service: DaemonName


class DaemonRestarted(Answer):
    service: str
    pid: int = Field(description="The process that was stopped.")
    stopped: bool = Field(description="Whether it had exited when the answer was sent (else it is still draining).")


def write_state(path: Path, state: StackState) -> None:
    """Replace the state file in one rename, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(state.model_dump_json(indent=2))
    tmp.replace(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(path: Path) -> StackState | None:
    """The state file as written, with ``running`` and uptimes as of now; None when no stack ever ran here."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    state = StackState.model_validate_json(text)
    running = _alive(state.supervisor_pid)
    now = time.time()
    processes = [
        p.model_copy(
            update={"uptime_s": round(now - p.started_at, 1) if running and p.started_at else None}
            | ({} if running else {"state": "stopped", "pid": None})
        )
        for p in state.processes
    ]
    return state.model_copy(update={"running": running, "processes": processes})
