"""Shared fixtures: settings over a temp data dir, in-process apps, PostgreSQL databases and a moto S3 server."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lakehouse.app import create_app
from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from tests.asgi import AppClient as TestClient

PG_URL = os.environ.get("LH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def make_settings(data_dir: Path, **sections: Any) -> Settings:
    return Settings.model_validate({"data_dir": data_dir, **sections})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build an in-process app over a fresh data dir; keyword arguments are settings sections."""
    opened: list[tuple[TestClient, Lakehouse]] = []

    def build(**sections: Any) -> TestClient:
        s = make_settings(tmp_path / f"data-{len(opened)}", **sections)
        lakehouse = Lakehouse(s)
        client = TestClient(create_app(s, lakehouse=lakehouse), lakehouse=lakehouse)
        opened.append((client, lakehouse))
        return client

    yield build
    for client, lakehouse in opened:
        client.close()
        lakehouse.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} does not answer: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def pg_server() -> str:
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    return PG_URL


@contextlib.contextmanager
def fresh_pg_database(server: str) -> Iterator[str]:
    """A new PostgreSQL database on ``server`` for as long as the block runs, then dropped."""
    name = f"lh_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def read_only_role(url: str) -> Iterator[str]:
    """A login role that may only read the database of ``url`` (the GRANTs docs/security.md lists), as a libpq DSN;
    dropped afterwards."""
    role = f"lh_reader_{uuid.uuid4().hex[:10]}"
    parsed = sa.make_url(url)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(sa.text(f'GRANT CONNECT ON DATABASE "{parsed.database}" TO "{role}"'))
        conn.execute(sa.text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        conn.execute(sa.text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
        conn.execute(sa.text(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{role}"'))
        conn.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    try:
        yield f"postgresql://{role}@{parsed.host}:{parsed.port or 5432}/{parsed.database}"
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with fresh_pg_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def opsdb_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The operational DB on SQLite and on PostgreSQL, each fresh."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'opsdb.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_bucket(endpoint: str) -> dict[str, Any]:
    """A fresh bucket on the moto server at ``endpoint``, as the settings of `storage.s3`."""
    import boto3

    bucket = f"lh-{uuid.uuid4().hex[:16]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    return {
        "bucket": bucket,
        "endpoint": endpoint,
        "region": "us-east-1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "prefix": "lakehouse",
        "allow_http": True,
    }


@pytest.fixture
def s3_settings(moto_endpoint: str) -> dict[str, Any]:
    """Settings for a fresh bucket on the moto server."""
    return s3_bucket(moto_endpoint)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog(request: pytest.FixtureRequest) -> str | None:
    """The lake's catalog for a library test: None for SQLite, else the URL of a fresh PostgreSQL database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return None


def pg_s3_env(pg_url: str, s3: dict[str, Any]) -> dict[str, str]:
    """Environment for a `lakehouse serve` process on a PostgreSQL catalog and opsdb with lake data under S3 (the
    moto server): what two machines sharing one lakehouse are given."""
    return {
        "LAKEHOUSE_LAKE__CATALOG": "postgres",
        "LAKEHOUSE_LAKE__CATALOG_DSN": pg_url.replace("postgresql+psycopg://", "postgresql://"),
        "LAKEHOUSE_LAKE__DATA_PATH": f"s3://{s3['bucket']}/lake",
        "LAKEHOUSE_STORAGE__S3__ENDPOINT": s3["endpoint"],
        "LAKEHOUSE_STORAGE__S3__ALLOW_HTTP": "true",
        "LAKEHOUSE_STORAGE__S3__ACCESS_KEY_ID": s3["access_key_id"],
        "LAKEHOUSE_STORAGE__S3__SECRET_ACCESS_KEY": s3["secret_access_key"],
        "LAKEHOUSE_OPSDB__URL": pg_url,
    }
