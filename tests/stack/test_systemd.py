"""`lakehouse deploy systemd`: the units follow the settings (ports, daemons, data dir, environment files), are
hardened, and the committed deploy/systemd/ is what the command writes for deploy/lakehouse.toml."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from lakehouse.config import DAEMONS, load_settings
from lakehouse.stack import systemd_units

ROOT = Path(__file__).parents[2]


def _units(tmp_path: Path, config: Path, *args: str) -> dict[str, str]:
    out = tmp_path / "units"
    result = CliRunner().invoke(cli, ["deploy", "systemd", "-c", str(config), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return {p.name: p.read_text() for p in out.iterdir()}


def _service_section(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values.setdefault(key, []).append(value)
    return values


def test_one_unit_per_daemon_of_the_config_on_its_port(tmp_path: Path) -> None:
    config = tmp_path / "lakehouse.toml"
    config.write_text(
        'data_dir = "/srv/lh"\n[server]\nport = 8080\n[stack]\nservices = ["queryd", "pathwayd"]\nbase_port = 4000\n'
    )
    units = _units(tmp_path, config, "--etc", "/etc/lh")
    assert set(units) == {
        "lakehouse-migrate.service",
        "lakehouse-queryd.service",
        "lakehouse-pathwayd.service",
        "lakehouse-gateway.service",
        "lakehouse.target",
        "stack.env",
    }
    queryd = _service_section(units["lakehouse-queryd.service"])
    assert queryd["ExecStart"] == [
        "/opt/lakehouse/venv/bin/lakehouse serve --only queryd --behind-gateway --host 127.0.0.1 --port 4004 "
        "--config /etc/lh/lakehouse.toml"
    ]
    assert queryd["EnvironmentFile"] == ["/etc/lh/lakehouse.env", "/etc/lh/stack.env"]
    assert queryd["ReadWritePaths"] == ["/srv/lh"]
    assert queryd["WorkingDirectory"] == ["/srv/lh"]
    for option in ("NoNewPrivileges=true", "ProtectSystem=strict", "ProtectHome=true", "PrivateTmp=true"):
        key, _, value = option.partition("=")
        assert queryd[key] == [value]
    assert queryd["Restart"] == ["on-failure"]
    assert queryd["Requires"] == ["lakehouse-migrate.service"]
    gateway = _service_section(units["lakehouse-gateway.service"])
    assert "--gateway --host 127.0.0.1 --port 8080" in gateway["ExecStart"][0]
    assert set(gateway["After"][0].split()) >= {"lakehouse-queryd.service", "lakehouse-pathwayd.service"}
    target = _service_section(units["lakehouse.target"])
    assert set(target["Wants"][0].split()) == {
        "lakehouse-migrate.service",
        "lakehouse-queryd.service",
        "lakehouse-pathwayd.service",
        "lakehouse-gateway.service",
    }
    assert units["stack.env"].splitlines()[-1].startswith("LAKEHOUSE_STACK__SECRET=")
    assert len(units["stack.env"].splitlines()[-1].split("=", 1)[1]) >= 40
    assert stat.S_IMODE((tmp_path / "units" / "stack.env").stat().st_mode) == 0o600


def test_a_postgres_deployment_waits_for_postgresql(tmp_path: Path) -> None:
    overrides = {"data_dir": "/srv/lh", "lake.catalog": "postgres", "lake.catalog_dsn": "postgresql://db/lake"}
    settings = load_settings(overrides=overrides).settings
    units = systemd_units(settings, config="/etc/lakehouse/lakehouse.toml", secret="x")
    assert "postgresql.service" in _service_section(units["lakehouse-queryd.service"])["After"][0]
    assert units["stack.env"].endswith("LAKEHOUSE_STACK__SECRET=x\n")


def test_the_committed_units_are_what_the_command_writes(tmp_path: Path) -> None:
    units = _units(tmp_path, ROOT / "deploy" / "lakehouse.toml", "--data-dir", "/var/lib/lakehouse")
    units.pop("stack.env")  # a secret: made on the machine, never committed
    committed = {p.name: p.read_text() for p in (ROOT / "deploy" / "systemd").iterdir()}
    assert committed == units, "regenerate deploy/systemd (docs/operations.md, Deploy)"
    assert {f"lakehouse-{name}.service" for name in DAEMONS} <= set(committed)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    executable = Path(sys.executable).with_name("lakehouse")
    units = _units(tmp_path, ROOT / "deploy" / "lakehouse.toml", "--exec", str(executable), "--data-dir", str(tmp_path))
    files = [str(tmp_path / "units" / name) for name in units if not name.endswith(".env")]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *files], capture_output=True, text=True, check=False
    )
    # systemd before 254 does not know the growing restart delay, and says so; nothing else may be wrong
    complaints = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "RestartSteps" not in line and "RestartMaxDelaySec" not in line
    ]
    assert complaints == [], result.stderr


def test_the_environment_template_lists_every_setting() -> None:
    from lakehouse.config import Settings, env_name, iter_settings

    text = (ROOT / "deploy" / "lakehouse.env").read_text()
    missing = [env_name(k) for k, _, _ in iter_settings(Settings()) if env_name(k) not in text]
    assert missing == [], "regenerate deploy/lakehouse.env's list"
