"""DuckDB extensions, loaded offline by path from the ``duckdb-extension-*`` packages on PyPI.

Each extension ships as ``duckdb_extension_<name>/extensions/v<duckdb version>/<name>.duckdb_extension``.
When a package is missing, loading falls back to DuckDB's own ``INSTALL``/``LOAD`` (which needs the internet).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import duckdb

# name -> True when DuckDB's Python wheel has it built in
REQUIRED_EXTENSIONS: dict[str, bool] = {
    "json": True,
    "parquet": True,
    "ducklake": False,
    "sqlite_scanner": False,
    "postgres_scanner": False,
    "httpfs": False,
}


@dataclass(frozen=True)
class ExtensionStatus:
    name: str
    ok: bool
    source: str  # "built-in", "package", "duckdb install" or "missing"
    detail: str


def package_path(name: str) -> Path | None:
    """The extension file a ``duckdb-extension-<name>`` package ships for this DuckDB version, if any."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    exact = root / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if exact.is_file():
        return exact
    found = sorted(root.glob(f"extensions/*/{name}.duckdb_extension"))
    return found[-1] if found else None


def load_extension(conn: duckdb.DuckDBPyConnection, name: str, *, allow_install: bool = True) -> str:
    """Load ``name`` on ``conn``; returns where it came from. Raises duckdb.Error when it cannot be had."""
    if REQUIRED_EXTENSIONS.get(name):
        conn.execute(f"LOAD {name}")
        return "built-in"
    path = package_path(name)
    if path is not None:
        conn.execute(f"LOAD '{_quote(path)}'")
        return "package"
    if not allow_install:
        raise duckdb.IOException(f"no duckdb-extension-{name.replace('_', '-')} package is installed")
    conn.execute(f"INSTALL {name}")
    conn.execute(f"LOAD {name}")
    return "duckdb install"


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def load_extensions(conn: duckdb.DuckDBPyConnection, names: list[str] | None = None) -> dict[str, str]:
    return {name: load_extension(conn, name) for name in (names or list(REQUIRED_EXTENSIONS))}


def extension_status(names: list[str] | None = None) -> list[ExtensionStatus]:
    """Try each extension on a fresh in-memory connection, offline (no install)."""
    results = []
    for name in names or list(REQUIRED_EXTENSIONS):
        conn = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
        try:
            source = load_extension(conn, name, allow_install=False)
            results.append(ExtensionStatus(name, True, source, "loaded"))
        except duckdb.Error as exc:
            results.append(ExtensionStatus(name, False, "missing", str(exc).splitlines()[0]))
        finally:
            conn.close()
    return results
