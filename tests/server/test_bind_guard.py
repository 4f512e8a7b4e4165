"""The bind guard: a non-loopback bind with auth off exits 2 before binding, with the fix in the message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.server import BindRefused, check_bind, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, auth_enabled=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "192.168.1.10", "10.0.0.1", "8.8.8.8", "fe80::1", ""])
def test_non_loopback_needs_auth(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(BindRefused) as info:
        check_bind(host, auth_enabled=False)
    assert "auth" in info.value.detail and "LAKEHOUSE_AUTH__ENABLED" in info.value.detail
    check_bind(host, auth_enabled=True)


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_serve_refuses_to_start(tmp_path: Path, host: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse", "serve", "--host", host, "--port", "3999", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "refusing to listen" in result.stderr and "--auth" in result.stderr
    assert not (tmp_path / "opsdb.sqlite3").exists(), "nothing is opened before the guard"


def test_env_auth_lets_serve_past_the_guard(tmp_path: Path) -> None:
    """With auth on from the environment the guard passes (the bad port then stops it, exit 2, not a bind)."""
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse", "serve", "--host", "0.0.0.0", "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LAKEHOUSE_AUTH__ENABLED": "true"},
    )
    assert result.returncode == 2
    assert "server.port" in result.stderr and "refusing" not in result.stderr
