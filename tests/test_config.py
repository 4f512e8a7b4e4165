"""Settings: defaults relative to the data dir, file < env < flags, and bad settings named at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.config import Settings, env_name, iter_settings, load_settings
from lakehouse.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lakehouse.toml"
    path.write_text(text)
    return path


def test_defaults_are_relative_to_the_data_dir() -> None:
    loaded = load_settings(environ={})
    s = loaded.settings
    assert s.server.host == "127.0.0.1" and s.server.port == 3100 and not s.auth.enabled
    assert s.data_dir == Path("lakehouse-data")
    assert s.opsdb_url() == "sqlite:///lakehouse-data/opsdb.sqlite3"
    assert s.in_data_dir(s.storage.local_root) == Path("lakehouse-data/blobs")
    for key, value, _ in iter_settings(s):
        if isinstance(value, str) and "/" in value:
            assert not value.startswith("/"), f"{key} defaults to an absolute path"
    assert loaded.source_of("server.port") == "default"


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 4000\nhost = "127.0.0.2"\n[auth]\nenabled = true\n')
    loaded = load_settings(
        path, {"server.host": "127.0.0.3"}, environ={"LAKEHOUSE_SERVER__PORT": "5000", "LAKEHOUSE_CONFIG": "ignored"}
    )
    s = loaded.settings
    assert (s.server.port, s.server.host, s.auth.enabled) == (5000, "127.0.0.3", True)
    assert loaded.source_of("server.port") == "env LAKEHOUSE_SERVER__PORT"
    assert loaded.source_of("server.host") == "flag"
    assert loaded.source_of("auth.enabled") == f"file {path}"


def test_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 4100\n")
    assert load_settings(environ={"LAKEHOUSE_CONFIG": str(path)}).settings.server.port == 4100


def test_relative_data_dir_in_a_file_is_relative_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'data_dir = "state"\n')
    assert load_settings(path, environ={}).settings.data_dir == tmp_path / "state"


@pytest.mark.parametrize(
    ("toml", "environ", "needle"),
    [
        ("[server]\nprot = 1\n", {}, "server.prot: unknown setting"),
        ("[nosuch]\nx = 1\n", {}, "nosuch: unknown setting"),
        ('[server]\nport = "abc"\n', {}, "server.port: Input should be a valid integer"),
        ("[server]\nport = 70000\n", {}, "server.port: Input should be less than or equal to 65535"),
        ("", {"LAKEHOUSE_AUTH__ENABLED": "perhaps"}, "auth.enabled: Input should be a valid boolean"),
        ("", {"LAKEHOUSE_SERVR__PORT": "1"}, "servr: unknown setting (from env LAKEHOUSE_SERVR__PORT)"),
        ('[storage]\nbackend = "s3"\n', {}, "storage.s3.bucket"),
        ('[storage]\nbackend = "ftp"\n', {}, "storage.backend: Input should be 'local' or 's3'"),
        ('[opsdb]\nurl = "mysql://x"\n', {}, "opsdb.url must start with"),
        ('[lake]\ncatalog = "postgres"\n', {}, "lake.catalog_dsn"),
        ('[lake]\ndata_path = "gs://bucket/lake"\n', {}, "lake.data_path must be a directory or an s3://"),
        ('[lake]\ndata_path = "s3:///lake"\n', {}, "lake.data_path must be a directory or an s3://"),
        ("not toml [", {}, "not valid TOML"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, toml: str, environ: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, toml), environ=environ)
    assert needle in info.value.detail


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_secrets_are_redacted(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[opsdb]\nurl = "postgresql+psycopg://u:hunter2@db/x"\n[storage.s3]\nsecret_access_key = "s3cr3t"\n'
    )
    s = load_settings(path, environ={}).settings
    shown = {k: v for k, v, _ in iter_settings(s)}
    assert shown["opsdb.url"] == "**********" and shown["storage.s3.secret_access_key"] == "**********"
    assert "hunter2" not in repr(s) and "s3cr3t" not in str(s)
    assert s.opsdb_url() == "postgresql+psycopg://u:hunter2@db/x"


def test_env_names() -> None:
    assert env_name("auth.enabled") == "LAKEHOUSE_AUTH__ENABLED"
    assert env_name("storage.s3.bucket") == "LAKEHOUSE_STORAGE__S3__BUCKET"


def test_deploy_example_is_valid_and_documented() -> None:
    path = Path(__file__).parent.parent / "deploy" / "lakehouse.toml"
    s = load_settings(path, environ={}).settings
    assert s.auth.enabled and s.server.port == 3100
    text = path.read_text()
    assert "# [opsdb]" in text or "#url" in text.replace(" ", "")
    assert "postgresql" in text and "s3" in text


def test_settings_model_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        Settings.model_validate({"server": {"bogus": 1}})
