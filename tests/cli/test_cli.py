"""The CLI: config show, keys, db upgrade, doctor, verify, and exit codes."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from tests.conftest import read_only_role


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), env=env or {}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_config_show_json_with_sources(runner: CliRunner, tmp_path: Path) -> None:
    toml = tmp_path / "lakehouse.toml"
    toml.write_text('[server]\nport = 4000\n[storage.s3]\nsecret_access_key = "hunter2"\n')
    code, out, _ = invoke(
        runner, "config", "show", "--json", "--config", str(toml), env={"LAKEHOUSE_SERVER__HOST": "127.0.0.9"}
    )
    assert code == 0
    shown = json.loads(out)["settings"]
    assert shown["server.port"] == {"value": 4000, "source": f"file {toml}"}
    assert shown["server.host"] == {"value": "127.0.0.9", "source": "env LAKEHOUSE_SERVER__HOST"}
    assert shown["auth.enabled"] == {"value": False, "source": "default"}
    assert shown["storage.s3.secret_access_key"]["value"] == "**********"
    assert "hunter2" not in out
    code, out, _ = invoke(runner, "config", "show", "--config", str(toml))
    assert code == 0 and "server.port" in out and "hunter2" not in out


def test_bad_setting_exits_2_naming_the_key(runner: CliRunner, tmp_path: Path) -> None:
    toml = tmp_path / "lakehouse.toml"
    toml.write_text("[server]\nport = -1\n")
    for command in (["config", "show"], ["serve"], ["keys", "list"], ["db", "upgrade"]):
        code, _, err = invoke(runner, *command, "--config", str(toml))
        assert code == 2, command
        assert "server.port" in err and "greater than or equal to 1" in err


def test_keys_create_list_revoke(runner: CliRunner, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out, err = invoke(runner, "keys", "create", "--name", "etl", "--scopes", "read,write", "--data-dir", data)
    assert code == 0 and re.fullmatch(r"lh_[A-Za-z0-9_-]{43}\n", out) and "only this once" in err
    code, out, _ = invoke(runner, "keys", "list", "--json", "--data-dir", data)
    [item] = json.loads(out)
    assert item["name"] == "etl" and item["scopes"] == ["read", "write"] and "secret" not in item
    code, out, _ = invoke(runner, "keys", "list", "--data-dir", data)
    assert "etl" in out and "lh_" in out
    code, _, err = invoke(runner, "keys", "create", "--name", "etl", "--scopes", "read", "--data-dir", data)
    assert code == 1 and "active key named 'etl'" in err
    code, _, err = invoke(runner, "keys", "create", "--name", "x", "--scopes", "root", "--data-dir", data)
    assert code == 1 and "unknown scope root" in err
    assert invoke(runner, "keys", "revoke", "etl", "--data-dir", data)[0] == 0
    code, _, err = invoke(runner, "keys", "revoke", "etl", "--data-dir", data)
    assert code == 1 and "no active key" in err
    assert json.loads(invoke(runner, "keys", "list", "--json", "--data-dir", data)[1]) == []


@pytest.mark.postgres
def test_db_upgrade(runner: CliRunner, opsdb_url: str, tmp_path: Path) -> None:
    env = {"LAKEHOUSE_OPSDB__URL": opsdb_url}
    from lakehouse.opsdb import head_revision

    head = head_revision()
    code, out, _ = invoke(runner, "db", "upgrade", "--data-dir", str(tmp_path), env=env)
    assert code == 0 and f"upgraded from empty to {head}" in out
    code, out, _ = invoke(runner, "db", "upgrade", "--data-dir", str(tmp_path), env=env)
    assert code == 0 and f"already at revision {head}" in out


def test_db_upgrade_unreachable(runner: CliRunner, tmp_path: Path) -> None:
    env = {"LAKEHOUSE_OPSDB__URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
    code, _, err = invoke(runner, "db", "upgrade", "--data-dir", str(tmp_path), env=env)
    assert code == 1 and "error:" in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_doctor(runner: CliRunner, tmp_path: Path) -> None:
    port = _free_port()
    code, out, _ = invoke(runner, "doctor", "--json", "--data-dir", str(tmp_path), "--port", str(port))
    report = json.loads(out)
    names = [c["name"] for c in report["checks"]]
    assert code == 0 and report["ok"], out
    for expected in ("python", "imports", "duckdb extension ducklake", "settings", "data dir", "port", "opsdb"):
        assert expected in names
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        code, out, _ = invoke(runner, "doctor", "--json", "--data-dir", str(tmp_path), "--port", str(port))
    failed = [c for c in json.loads(out)["checks"] if not c["ok"]]
    assert code == 1 and [c["name"] for c in failed] == ["port"] and failed[0]["fix"]


def test_doctor_reports_bad_settings(runner: CliRunner, tmp_path: Path) -> None:
    code, out, _ = invoke(runner, "doctor", "--json", env={"LAKEHOUSE_SERVER__PORT": "nope"})
    failed = [c for c in json.loads(out)["checks"] if not c["ok"]]
    assert code == 1 and failed[0]["name"] == "settings" and "server.port" in failed[0]["detail"]


def test_doctor_checks_configured_s3(runner: CliRunner, tmp_path: Path) -> None:
    env = {
        "LAKEHOUSE_STORAGE__BACKEND": "s3",
        "LAKEHOUSE_STORAGE__S3__BUCKET": "nope",
        "LAKEHOUSE_STORAGE__S3__ENDPOINT": f"http://127.0.0.1:{_free_port()}",
        "LAKEHOUSE_STORAGE__S3__ALLOW_HTTP": "true",
        "LAKEHOUSE_STORAGE__S3__ACCESS_KEY_ID": "x",
        "LAKEHOUSE_STORAGE__S3__SECRET_ACCESS_KEY": "y",
    }
    code, out, _ = invoke(runner, "doctor", "--json", "--data-dir", str(tmp_path), "--port", str(_free_port()), env=env)
    s3 = next(c for c in json.loads(out)["checks"] if c["name"] == "s3")
    assert code == 1 and not s3["ok"]


def test_verify_ephemeral(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "verify")
    lines = out.strip().splitlines()
    assert code == 0, out
    match = re.fullmatch(r"(\d+)/(\d+) PASS in \d+\.\ds", lines[-1])
    assert match and match.group(1) == match.group(2) and int(match.group(2)) >= 10
    assert all(re.match(r"\s*\d+\. PASS ", line) for line in lines[:-1])


def test_every_command_has_help_with_an_example(runner: CliRunner) -> None:
    from tests.test_docs import all_commands

    for path, command in all_commands():
        assert command.help, path
        if not hasattr(command, "commands"):
            assert "Example" in command.help, f"{path} has no example"
        assert invoke(runner, *path.split()[1:], "--help")[0] == 0


@pytest.mark.postgres
def test_doctor_checks_configured_postgresql(runner: CliRunner, tmp_path: Path, pg_url: str) -> None:
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    env = {"LAKEHOUSE_OPSDB__URL": pg_url, "LAKEHOUSE_LAKE__CATALOG": "postgres", "LAKEHOUSE_LAKE__CATALOG_DSN": dsn}
    code, out, _ = invoke(runner, "doctor", "--json", "--data-dir", str(tmp_path), "--port", str(_free_port()), env=env)
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1, out  # the SQL engines would attach the catalog as a superuser
    assert checks["opsdb"]["detail"].startswith("postgresql reachable")
    assert checks["lake catalog"]["ok"]
    role = checks["query catalog role"]
    assert not role["ok"] and "superuser" in role["detail"] and "query_catalog_dsn" in role["fix"]
    with read_only_role(pg_url) as reader:
        env["LAKEHOUSE_LAKE__QUERY_CATALOG_DSN"] = reader
        code, out, _ = invoke(
            runner, "doctor", "--json", "--data-dir", str(tmp_path), "--port", str(_free_port()), env=env
        )
        checks = {c["name"]: c for c in json.loads(out)["checks"]}
        assert code == 0 and checks["query catalog role"]["detail"] == "read-only", out
        env["LAKEHOUSE_LAKE__QUERY_CATALOG_DSN"] = dsn  # the writers' role: it owns the catalog's tables
        code, out, _ = invoke(
            runner, "doctor", "--json", "--data-dir", str(tmp_path), "--port", str(_free_port()), env=env
        )
        assert code == 1
        del env["LAKEHOUSE_LAKE__QUERY_CATALOG_DSN"]
    env["LAKEHOUSE_LAKE__CATALOG_DSN"] = "postgresql://postgres@127.0.0.1:1/none"
    code, out, _ = invoke(runner, "doctor", "--json", "--data-dir", str(tmp_path), "--port", str(_free_port()), env=env)
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1 and not checks["lake catalog"]["ok"] and "catalog_dsn" in checks["lake catalog"]["fix"]


@pytest.mark.s3
def test_doctor_checks_lake_data_on_s3(runner: CliRunner, tmp_path: Path, s3_settings: dict[str, object]) -> None:
    env = {
        "LAKEHOUSE_LAKE__DATA_PATH": f"s3://{s3_settings['bucket']}/lake",
        "LAKEHOUSE_STORAGE__S3__ENDPOINT": str(s3_settings["endpoint"]),
        "LAKEHOUSE_STORAGE__S3__ALLOW_HTTP": "true",
        "LAKEHOUSE_STORAGE__S3__ACCESS_KEY_ID": "testing",
        "LAKEHOUSE_STORAGE__S3__SECRET_ACCESS_KEY": "testing",
    }
    args = ("doctor", "--json", "--data-dir", str(tmp_path), "--port", str(_free_port()))
    code, out, _ = invoke(runner, *args, env=env)
    check = next(c for c in json.loads(out)["checks"] if c["name"] == "lake data")
    assert code == 0 and check["ok"], out
    env["LAKEHOUSE_LAKE__DATA_PATH"] = "s3://no-such-bucket-here/lake"
    code, out, _ = invoke(runner, *args, env=env)
    check = next(c for c in json.loads(out)["checks"] if c["name"] == "lake data")
    assert code == 1 and not check["ok"], out
