"""`verify --url` against a running auth-on server: every smoke passes and it leaves no key behind."""

from __future__ import annotations

from pathlib import Path

from lakehouse import Lakehouse
from lakehouse.app import create_app
from lakehouse.config import Settings
from lakehouse.verify import ServerThread, verify_url


def test_verify_url_with_auth_cleans_up(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path, "auth": {"enabled": True}})
    lines: list[str] = []
    with Lakehouse(settings) as lakehouse:
        admin = lakehouse.keys.create("ops", "admin").secret
        with ServerThread(create_app(settings, lakehouse=lakehouse)) as server:
            outcomes = verify_url(server.url, admin, lines.append)
        assert all(o.ok for o in outcomes), lines
        assert len(outcomes) >= 10 and lines[-1].startswith(f"{len(outcomes)}/{len(outcomes)} PASS in ")
        assert [k.name for k in lakehouse.keys.list()] == ["ops"]


def test_verify_reports_failures(tmp_path: Path) -> None:
    """Against an auth-on server without a key, the auth-off smoke fails and the last line says so."""
    settings = Settings.model_validate({"data_dir": tmp_path, "auth": {"enabled": True}})
    lines: list[str] = []
    with Lakehouse(settings) as lakehouse, ServerThread(create_app(settings, lakehouse=lakehouse)) as server:
        outcomes = verify_url(server.url, None, lines.append)
    failed = [o for o in outcomes if not o.ok]
    assert failed and any("pass --api-key" in o.detail for o in failed)
    passed = len(outcomes) - len(failed)
    assert lines[-1].startswith(f"{passed}/{len(outcomes)} PASS in ")
