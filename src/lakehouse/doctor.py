"""``lakehouse doctor``: checks that this machine and these settings can run a lakehouse, each with a fix."""

from __future__ import annotations

import asyncio
import errno
import importlib
import socket
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from lakehouse.config import LoadedSettings, Settings
from lakehouse.errors import ConfigError
from lakehouse.tables.extensions import extension_status

REQUIRED_IMPORTS = (
    "fastapi",
    "uvicorn",
    "httpx",
    "pydantic",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "obstore",
    "duckdb",
    "prometheus_client",
    "click",
    "rich",
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, f"Python {version}", "" if ok else "install Python 3.11 or newer")


def _imports() -> Check:
    missing = []
    for module in REQUIRED_IMPORTS:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        return Check("imports", False, "missing: " + ", ".join(missing), "pip install -e . (or make run)")
    return Check("imports", True, f"{len(REQUIRED_IMPORTS)} packages import")


def _extensions() -> list[Check]:
    checks = []
    for status in extension_status():
        pkg = "duckdb-extension-" + status.name.replace("_", "-")
        checks.append(
            Check(
                f"duckdb extension {status.name}",
                status.ok,
                f"{status.source}: {status.detail}",
                "" if status.ok else f"pip install {pkg} matching duckdb's version",
            )
        )
    return checks


def _data_dir(settings: Settings) -> Check:
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".doctor-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return Check("data dir", False, f"{path}: {exc.strerror or exc}", "choose a writable --data-dir")
    return Check("data dir", True, f"{path} is writable")


def _port(settings: Settings) -> Check:
    host, port = settings.server.host, settings.server.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return Check(
                    "port",
                    False,
                    f"{host}:{port} is in use",
                    "stop what listens there or set --port / server.port",
                )
            return Check("port", False, f"{host}:{port}: {exc.strerror}", "set server.host to an address here")
    return Check("port", True, f"{host}:{port} is free")


def _opsdb(settings: Settings) -> Check:
    from lakehouse.opsdb import create_engine, current_revision, head_revision

    engine = create_engine(settings.opsdb_url())
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        revision = current_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        return Check("opsdb", False, f"{engine.dialect.name}: {str(exc).splitlines()[0]}", "check opsdb.url")
    finally:
        engine.dispose()
    head = head_revision()
    state = "new (migrated on start)" if revision is None else f"revision {revision}"
    if revision not in (None, head):
        state += f", head is {head}: run `lakehouse db upgrade`"
    return Check("opsdb", True, f"{engine.dialect.name} reachable, {state}")


def _lake_catalog(settings: Settings) -> Check | None:
    if settings.lake.catalog != "postgres" or settings.lake.catalog_dsn is None:
        return None
    import psycopg

    try:
        with psycopg.connect(settings.lake.catalog_dsn.get_secret_value(), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return Check("lake catalog", False, str(exc).splitlines()[0], "check lake.catalog_dsn")
    return Check("lake catalog", True, "PostgreSQL catalog reachable")


# Can the role write any of the catalog's tables, or make new ones? (A role's own tables count: it owns them.)
_CATALOG_WRITES = """
SELECT
  (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
  coalesce((SELECT bool_or(has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')), false),
  has_database_privilege(current_database(), 'CREATE')
    OR coalesce((SELECT bool_or(has_schema_privilege(n.oid, 'CREATE')) FROM pg_namespace n
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_%'), false)
"""


def _query_catalog_role(settings: Settings) -> Check | None:
    """/v1/sql's engines attach the catalog READ_ONLY; underneath, their role should not be able to write it."""
    lake = settings.lake
    dsn = lake.query_catalog_dsn or lake.catalog_dsn
    if lake.catalog != "postgres" or dsn is None:
        return None
    import psycopg

    fix = "set lake.query_catalog_dsn to a role with SELECT only (docs/security.md lists the GRANTs)"
    try:
        with psycopg.connect(dsn.get_secret_value(), connect_timeout=5) as conn:
            row = conn.execute(_CATALOG_WRITES).fetchone()
    except psycopg.Error as exc:
        return Check("query catalog role", False, str(exc).splitlines()[0], "check lake.query_catalog_dsn")
    superuser, writes, creates = row if row is not None else (True, True, True)
    if superuser:
        return Check("query catalog role", False, "the SQL engines' catalog role is a superuser", fix)
    if writes or creates:
        return Check("query catalog role", False, "the SQL engines' catalog role can write the catalog", fix)
    return Check("query catalog role", True, "read-only")


def _spool_leftovers(settings: Settings) -> Check:
    from lakehouse.tables.spool import leftovers

    found = leftovers(settings)
    if found:
        size = sum(p.stat().st_size for p in found if p.exists())
        detail = f"{len(found)} file(s), {size} bytes, left by requests of processes that are gone"
        return Check("spool", False, detail, "start the server (it removes them) or delete them from the spool dir")
    return Check("spool", True, "no leftovers")


def _lake_data(settings: Settings) -> Check | None:
    """Lake data on S3: list the prefix with the same extension and secret the lake uses."""
    from lakehouse.tables.lake import data_path, on_s3, open_s3_probe

    if not on_s3(settings):
        return None
    try:
        files = open_s3_probe(settings)
    except Exception as exc:
        return Check("lake data", False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}", "check storage.s3.*")
    return Check("lake data", True, f"{data_path(settings)} reachable ({files} Parquet files)")


def _s3(settings: Settings) -> Check | None:
    if settings.storage.backend != "s3":
        return None
    from lakehouse.blobs import S3BlobStore

    try:
        asyncio.run(S3BlobStore(settings.storage.s3).check())
    except Exception as exc:
        return Check("s3", False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}", "check storage.s3.*")
    return Check("s3", True, f"bucket {settings.storage.s3.bucket} reachable")


def run_checks(load: Callable[[], LoadedSettings]) -> list[Check]:
    """Every check, in order. Settings come from ``load`` so a bad setting is itself a failed check."""
    checks = [_python(), _imports(), *_extensions()]
    try:
        settings = load().settings
    except ConfigError as exc:
        checks.append(Check("settings", False, exc.detail, "fix the named key (see docs/operations.md)"))
        return checks
    checks.append(Check("settings", True, "valid"))
    checks += [_data_dir(settings), _port(settings), _opsdb(settings)]
    optional = (_lake_catalog(settings), _query_catalog_role(settings), _lake_data(settings), _s3(settings))
    checks += [c for c in optional if c is not None]
    checks.append(_spool_leftovers(settings))
    return checks
