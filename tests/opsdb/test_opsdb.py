"""The operational DB on SQLite and PostgreSQL: migrations, pragmas, and the API key store."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from lakehouse.apikeys import ApiKeyStore
from lakehouse.errors import ApiKeyExists, ApiKeyNotFound, InvalidScope
from lakehouse.opsdb import create_engine, current_revision, head_revision, upgrade

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(opsdb_url: str) -> sa.Engine:
    engine = create_engine(opsdb_url)
    upgrade(engine)
    yield engine  # type: ignore[misc]
    engine.dispose()


def test_migrations_reach_head_and_are_idempotent(engine: sa.Engine) -> None:
    assert current_revision(engine) == head_revision() is not None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert "api_keys" in sa.inspect(engine).get_table_names()


def test_sqlite_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'sub' / 'ops.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_key_lifecycle(engine: sa.Engine) -> None:
    store = ApiKeyStore(engine)
    created = store.create("etl", "write,read")
    assert created.secret.startswith("lh_") and len(created.secret) == 46
    assert created.key.scopes == ("read", "write") and created.key.last_used_at is None
    verified = store.verify(created.secret)
    assert verified is not None and verified.name == "etl"
    assert store.get("etl").last_used_at is not None
    assert store.verify(created.secret[:-1] + ("A" if created.secret[-1] != "A" else "B")) is None
    assert store.verify("") is None and store.verify("lh_short") is None
    with pytest.raises(ApiKeyExists):
        store.create("etl", "read")
    store.revoke("etl")
    assert store.verify(created.secret) is None
    with pytest.raises(ApiKeyNotFound):
        store.revoke("etl")
    again = store.create("etl", "read")  # a revoked name can be reused
    assert again.secret != created.secret
    assert [k.name for k in store.list()] == ["etl"]
    assert len(store.list(include_revoked=True)) == 2


def test_only_the_hash_is_stored(engine: sa.Engine) -> None:
    secret = ApiKeyStore(engine).create("k", "admin").secret
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM api_keys")).all()
    dumped = repr(rows)
    assert secret not in dumped and secret[3:] not in dumped


@pytest.mark.parametrize("scopes", ["", "read,root", " , "])
def test_bad_scopes(engine: sa.Engine, scopes: str) -> None:
    with pytest.raises(InvalidScope):
        ApiKeyStore(engine).create("k", scopes)
    assert ApiKeyStore(engine).list(include_revoked=True) == []


def test_concurrent_migrations_on_a_fresh_database(opsdb_url: str) -> None:
    """Several processes starting at once against one new database: each upgrade succeeds, once."""
    from concurrent.futures import ThreadPoolExecutor

    engines = [create_engine(opsdb_url) for _ in range(6)]
    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(upgrade, engines))
        assert current_revision(engines[0]) == head_revision()
    finally:
        for e in engines:
            e.dispose()


def test_concurrent_creates_of_one_name_make_one_key(engine: sa.Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_: int) -> str:
        try:
            ApiKeyStore(engine).create("racer", "read")
        except ApiKeyExists:
            return "exists"
        return "created"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count("created") == 1 and outcomes.count("exists") == 15
    assert len(ApiKeyStore(engine).list()) == 1
