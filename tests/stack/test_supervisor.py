"""The supervisor of `lakehouse up`, over stand-in daemons: start order, restart with backoff, a daemon that keeps
failing, drain, kill, a taken port, a child that refuses its settings, and the one log stream."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lakehouse.config import Settings
from lakehouse.errors import ConfigError
from lakehouse.stack import Supervisor, read_state
from lakehouse.stack.supervisor import port_free

FAKE = Path(__file__).with_name("fake_daemon.py")


def _free_block(size: int) -> int:
    """A base port with ``size`` free ports above it."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = int(sock.getsockname()[1])
        if base + size < 65000 and all(port_free("127.0.0.1", base + i) for i in range(size + 1)):
            return base
    raise AssertionError("no free block of ports")


def _settings(tmp_path: Path, services: list[str], **stack: object) -> Settings:
    base = _free_block(12)
    return Settings.model_validate(
        {
            "data_dir": tmp_path / "data",
            "server": {"port": base},
            "stack": {
                "services": services,
                "base_port": base,
                "secret": "s",
                "restart_backoff_s": 0.05,
                "restart_backoff_max_s": 0.2,
                "start_timeout_s": 10,
                "drain_timeout_s": 5,
                **stack,
            },
        }
    )


def _command(where: Path) -> Callable[[str, int], list[str]]:
    return lambda name, port: [sys.executable, str(FAKE), name, str(port), str(where)]


def _supervisor(tmp_path: Path, services: list[str], **stack: object) -> tuple[Supervisor, io.StringIO]:
    out = io.StringIO()
    supervisor = Supervisor(
        _settings(tmp_path, services, **stack), _command(tmp_path), out=out, env={}, check_stores=False
    )
    return supervisor, out


def _starts(tmp_path: Path, name: str) -> int:
    path = tmp_path / f"{name}.starts"
    return len(path.read_text().splitlines()) if path.exists() else 0


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_starts_every_daemon_then_the_gateway_and_drains_them_on_stop(tmp_path: Path) -> None:
    supervisor, out = _supervisor(tmp_path, ["storaged", "queryd"])

    async def scenario() -> None:
        await supervisor.start()
        state = read_state(supervisor.state_path)
        assert state is not None and state.running
        assert {p.name: p.state for p in state.processes} == {"storaged": "up", "queryd": "up", "gateway": "up"}
        ports = {p.name: p.port for p in state.processes}
        assert ports["queryd"] == supervisor.stack.port("queryd")
        # the gateway started after every daemon was up
        gateway_start = float((tmp_path / "gateway.starts").read_text())
        assert all(float((tmp_path / f"{n}.starts").read_text()) < gateway_start for n in ("storaged", "queryd"))
        await supervisor.stop()

    asyncio.run(scenario())
    for name in ("storaged", "queryd", "gateway"):
        assert (tmp_path / f"{name}.drained").exists(), name
    state = read_state(supervisor.state_path)
    assert state is not None and {p.state for p in state.processes} == {"stopped"}
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    # one stream, every line JSON naming its service: plain output is wrapped, JSON lines pass as they are
    assert {"level": "info", "service": "queryd", "logger": "output", "msg": "plain text from queryd"} in lines
    assert {"level": "info", "msg": "bye"} in lines


def test_a_daemon_that_exits_is_restarted_and_counted(tmp_path: Path) -> None:
    (tmp_path / "queryd.crash").touch()
    supervisor, _ = _supervisor(tmp_path, ["storaged", "queryd"])

    async def scenario() -> None:
        await supervisor.start()
        await _until(lambda: _starts(tmp_path, "queryd") == 2)
        queryd = next(c for c in supervisor.daemons if c.name == "queryd")
        await _until(lambda: queryd.state == "up")
        assert queryd.restarts == 1 and queryd.exit_code == 1
        assert _starts(tmp_path, "storaged") == 1  # the others are left alone
        await supervisor.stop()

    asyncio.run(scenario())


def test_a_daemon_that_keeps_failing_is_reported_and_the_rest_serve(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "queryd.fail").touch()
    supervisor, _ = _supervisor(tmp_path, ["storaged", "queryd"], failing_after=3, start_timeout_s=1.5)
    caplog.set_level(logging.WARNING, logger="lakehouse.stack")

    async def scenario() -> None:
        await supervisor.start()  # the gateway opens without it
        queryd = next(c for c in supervisor.daemons if c.name == "queryd")
        await _until(lambda: queryd.state == "failing" and queryd.restarts >= 4, timeout=30)
        state = read_state(supervisor.state_path)
        assert state is not None
        by_name = {p.name: p for p in state.processes}
        assert by_name["queryd"].state == "failing" and by_name["queryd"].restarts >= 4
        assert by_name["storaged"].state == "up" and by_name["gateway"].state == "up"
        await supervisor.stop()

    asyncio.run(scenario())
    # the wait doubles from restart_backoff_s up to restart_backoff_max_s: never a tight loop
    delays = [float(m.split(" in ")[1].split()[0]) for m in caplog.messages if "restart" in m and "queryd" in m]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.2]
    assert _starts(tmp_path, "storaged") == 1


def test_a_daemon_that_ignores_the_stop_is_killed_after_the_drain_timeout(tmp_path: Path) -> None:
    (tmp_path / "queryd.stubborn").touch()
    (tmp_path / "storaged.slow-stop").touch()
    supervisor, _ = _supervisor(tmp_path, ["storaged", "queryd"], drain_timeout_s=1.5)

    async def scenario() -> float:
        await supervisor.start()
        started = time.monotonic()
        await supervisor.stop()
        return time.monotonic() - started

    took = asyncio.run(scenario())
    assert (tmp_path / "storaged.drained").exists()  # a slow drain is waited for
    assert not (tmp_path / "queryd.drained").exists()  # the stubborn one was killed
    assert took >= 1.0  # it waited out the drain before killing (and did kill: the test ends)
    queryd = next(c for c in supervisor.daemons if c.name == "queryd")
    assert queryd.exit_code == -9


def test_a_second_stop_signal_kills_at_once(tmp_path: Path) -> None:
    (tmp_path / "queryd.stubborn").touch()
    supervisor, _ = _supervisor(tmp_path, ["queryd"], drain_timeout_s=30)

    async def scenario() -> float:
        await supervisor.start()
        started = time.monotonic()
        supervisor.request_stop()
        stopping = asyncio.create_task(supervisor.stop())
        await asyncio.sleep(0.3)
        supervisor.request_stop()  # the second signal
        await stopping
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 20.0  # well before the 30 s drain timeout


def test_a_taken_port_stops_the_start_naming_the_daemon(tmp_path: Path) -> None:
    supervisor, _ = _supervisor(tmp_path, ["storaged", "queryd"])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", supervisor.stack.port("queryd")))
        holder.listen()
        with pytest.raises(ConfigError, match=r"port \d+ \(queryd\) is already in use"):
            asyncio.run(supervisor.start())
    assert _starts(tmp_path, "storaged") == 0  # nothing was started


def test_a_daemon_that_refuses_its_settings_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "queryd.config").touch()
    supervisor, _ = _supervisor(tmp_path, ["storaged", "queryd"])

    async def scenario() -> None:
        try:
            await supervisor.start()
        finally:
            await supervisor.stop()

    with pytest.raises(ConfigError, match="queryd refused its settings"):
        asyncio.run(scenario())
    assert _starts(tmp_path, "queryd") == 1  # not restarted in a loop
    assert (tmp_path / "storaged.drained").exists()
    assert _starts(tmp_path, "gateway") == 0


def test_a_bad_stack_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown daemon nosuchd"):
        _settings(tmp_path, ["nosuchd"])
