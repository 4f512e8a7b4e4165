"""Waiting in tests for something another thread or process makes true, with a deadline instead of a sleep."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` every 10 ms until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def stack_is_up(gateway_url: str, data_dir: Path) -> bool:
    """Whether a `lakehouse up` stack answers and every process of it is up: its gateway opens once the daemons are
    up or, past `stack.start_timeout_s` on a loaded machine, given up on for now (then they come up later)."""
    import httpx

    try:
        if httpx.get(gateway_url + "/health", timeout=1).status_code != 200:
            return False
        state = json.loads((data_dir / "stack" / "state.json").read_text())
    except (httpx.TransportError, OSError, ValueError):
        return False
    return all(process["state"] == "up" for process in state["processes"])
