"""The /v1/sql sandbox: a statement is judged on the tree DuckDB's own parser makes of it, against allow-lists.

``judge(sql, grant)`` runs before a statement reaches any connection. DuckDB parses it (``json_serialize_sql``) and
every node of the tree is visited — CTEs, subqueries, lateral joins, set operations, lambda bodies, ``AT`` clauses,
``DESCRIBE``/``SUMMARIZE`` targets, the statement an ``EXPLAIN`` explains:

- every function call must be on ``sql_functions.FUNCTIONS``, every table function on
  ``sql_functions.TABLE_FUNCTIONS``: anything else (a new extension's, a DuckDB upgrade's) is refused with
  ``forbidden_function``, naming it, whatever extensions the engine has loaded;
- every table reference must name a CTE of the statement, a table of the lake (in one of the grant's namespaces),
  or ``memory.memories``/``revisions``/``events`` when the grant reads memory: DuckDB's system views, its other
  catalogs (the lake's metadata catalog included) and file or URL "tables" are refused with ``permission_denied``.

What a grant may see is enforced by rewriting the tree, never by trusting the text: the catalog listings
(``duckdb_tables()`` and kin) become subqueries filtered to the lake (and the grant's namespaces), and a grant
bound to one tenant reads ``memory.*`` through subqueries filtered to that tenant. A rewritten tree goes back to SQL
through ``json_deserialize_sql``; a statement with nothing to rewrite runs as it was sent.

The engine underneath is locked down as well (``tables.query``): this is the first wall, not the only one.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

import duckdb

from lakehouse.errors import ErrorItem, ForbiddenFunction, ForbiddenStatement, InvalidSql, PermissionDenied
from lakehouse.tables.names import OBSERVE_NAMESPACE, REPLAY_NAMESPACE, VECTORS_NAMESPACE, collection_namespace, quote
from lakehouse.tables.sql_functions import FUNCTIONS, TABLE_FUNCTIONS

__all__ = ["Grant", "Verdict", "judge"]

LAKE = "lake"
MEMORY = "memory"
MEMORY_TABLES = ("memories", "revisions", "events")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_NOWHERE = 2**64 - 1  # DuckDB's "no location"
# Names DuckDB resolves outside the lake when left unqualified (its system views): refused unless qualified as
# lake.<schema>.<name>. Filled once from a plain DuckDB instance.
_CATALOGS_REFUSED = frozenset({"system", "temp", "information_schema", "pg_catalog"})
# Table reference node types that hold no name of their own (their parts are visited).
_CONTAINERS = frozenset({"JOIN", "SUBQUERY", "EMPTY", "EXPRESSION_LIST", "PIVOT"})
# Functions that take a catalog (and schema, table) as constant arguments.
_LAKE_LISTINGS = frozenset(
    {"ducklake_snapshots", "ducklake_table_info", "ducklake_current_snapshot", "ducklake_last_committed_snapshot"}
)
_LAKE_TABLE_FUNCTIONS = frozenset({"ducklake_table_changes", "ducklake_table_insertions", "ducklake_table_deletions"})
_CATALOG_LISTINGS = frozenset({"duckdb_tables", "duckdb_columns", "duckdb_views", "duckdb_schemas"})


@dataclass(frozen=True)
class Grant:
    """What one caller may read through SQL.

    ``namespaces``: the lake namespaces (schemas) it may read, None for all. ``memory``: ``"all"`` (every tenant's
    memory tables), ``"tenant"`` (only ``tenant``'s rows) or ``"none"``."""

    namespaces: frozenset[str] | None = None
    memory: str = "all"
    tenant: str | None = None


UNRESTRICTED = Grant()
# recorded traffic holds every tenant's request and answer bodies
_REPLAY_REFUSED = "recorded traffic (replay.*) needs an admin key bound to no tenant"


@dataclass(frozen=True)
class Verdict:
    """An accepted statement: the SQL to run (rewritten when the grant filters what it reads) and whether it reads
    the memory tables."""

    sql: str
    reads_memory: bool


class _Parser(threading.local):
    """A cursor per thread on one small DuckDB instance that only parses (no extension, no catalog)."""

    def __init__(self) -> None:
        self.cursor = _PARSER_DB.cursor()


_PARSER_DB = duckdb.connect(
    ":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
)
_parser = _Parser()


def _system_names() -> frozenset[str]:
    rows = _PARSER_DB.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = 'system' "
        "UNION SELECT table_name FROM duckdb_tables() WHERE database_name = 'system'"
    ).fetchall()
    return frozenset(str(r[0]).lower() for r in rows)


_SYSTEM_NAMES = _system_names()


def _serialize(sql: str) -> dict[str, Any]:
    raw = _parser.cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    assert raw is not None
    tree: dict[str, Any] = json.loads(raw[0])
    return tree


def _deserialize(tree: dict[str, Any]) -> str:
    row = _parser.cursor.execute("SELECT json_deserialize_sql(?)", [json.dumps(tree)]).fetchone()
    assert row is not None
    return str(row[0])


def _position(node: dict[str, Any], offset: int) -> int | None:
    where = node.get("query_location")
    if isinstance(where, int) and where != _NOWHERE and where >= 0:
        return where + offset
    return None


def _item(kind: str, reason: str, position: int | None) -> list[ErrorItem]:
    extra = {"ctx": {"position": position}} if position is not None else {}
    return [ErrorItem(kind=kind, field="sql", reason=reason, extra=extra)]


def _constant(node: Any) -> str | None:
    """The string a constant argument holds (None when it is not a string constant)."""
    if isinstance(node, dict) and node.get("class") == "CONSTANT":
        value = node.get("value") or {}
        if not value.get("is_null") and isinstance(value.get("value"), str):
            return str(value["value"])
    return None


class _Judge:
    """One statement's walk: refuses at the first node off the lists; records what to rewrite."""

    def __init__(self, grant: Grant, offset: int) -> None:
        self.grant = grant
        self.offset = offset  # where the serialized statement starts in the text sent (after EXPLAIN)
        self.reads_memory = False
        self.rewritten = False

    # -- refusals -------------------------------------------------------------------------------------------------

    def _forbidden_function(self, name: str, node: dict[str, Any], why: str = "") -> ForbiddenFunction:
        where = _position(node, self.offset)
        reason = f"{name}() is not available over /v1/sql" + (f": {why}" if why else "")
        return ForbiddenFunction(reason, errors=_item("forbidden_function", reason, where))

    def _denied(self, what: str, node: dict[str, Any], why: str) -> PermissionDenied:
        where = _position(node, self.offset)
        reason = f"{what}: {why}"
        return PermissionDenied(reason, errors=_item("permission_denied", reason, where))

    # -- the walk --------------------------------------------------------------------------------------------------

    def visit(self, node: Any, ctes: frozenset[str]) -> None:
        if isinstance(node, list):
            for child in node:
                self.visit(child, ctes)
            return
        if not isinstance(node, dict):
            return
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names = {str(entry.get("key", "")).lower() for entry in cte_map.get("map", [])}
            ctes = ctes | names
        kind = node.get("type")
        if "class" not in node and isinstance(kind, str) and "query_location" in node and "alias" in node:
            self._table_ref(node, ctes)
            return
        if node.get("class") in ("FUNCTION", "WINDOW") and "function_name" in node:
            self._function(node)
        for value in node.values():
            self.visit(value, ctes)

    def _function(self, node: dict[str, Any]) -> None:
        name = str(node["function_name"]).lower()
        catalog = str(node.get("catalog") or "").lower()
        schema = str(node.get("schema") or "").lower()
        if catalog not in ("", "system") or schema not in ("", "main", "pg_catalog"):
            raise self._forbidden_function(f"{schema}.{name}" if schema else name, node, "qualified by another catalog")
        if name not in FUNCTIONS:
            raise self._forbidden_function(name, node)

    def _table_ref(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        kind = node["type"]
        if kind == "BASE_TABLE":
            self._base_table(node, ctes)
        elif kind == "TABLE_FUNCTION":
            self._table_function(node, ctes)
        elif kind == "SHOW_REF":
            if node.get("query") is None or node.get("table_name"):
                raise ForbiddenStatement(
                    "SHOW is not available over /v1/sql: list tables with duckdb_tables(), columns with DESCRIBE t",
                    errors=_item("forbidden_statement", "SHOW lists DuckDB's catalogs", _position(node, self.offset)),
                )
            self.visit(node["query"], ctes)
        elif kind in _CONTAINERS:
            for key, value in node.items():
                if key != "type":
                    self.visit(value, ctes)
        else:
            raise ForbiddenStatement(
                f"a {kind} table reference is not available over /v1/sql",
                errors=_item("forbidden_statement", f"{kind} is not supported", _position(node, self.offset)),
            )

    def _base_table(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        catalog = str(node.get("catalog_name") or "").lower()
        schema = str(node.get("schema_name") or "").lower()
        table = str(node.get("table_name") or "").lower()
        shown = ".".join(p for p in (catalog, schema, table) if p)
        if node.get("at_clause") is not None:
            self.visit(node["at_clause"], ctes)
        if not catalog and not schema and table in ctes:
            return
        if not catalog and schema in (LAKE, MEMORY):  # lake.t or memory.t: a catalog and its main schema
            catalog, schema = schema, "main" if schema == MEMORY else ""
        if not _IDENT.match(table):
            raise self._denied(shown, node, "only tables of the lake can be read (no files or URLs)")
        if catalog == MEMORY:
            if schema not in ("", "main") or table not in MEMORY_TABLES:
                raise self._denied(shown, node, "the memory catalog holds memories, revisions and events")
            self._memory_table(node, table)
            return
        if catalog not in ("", LAKE):
            raise self._denied(shown, node, "only the lake and memory catalogs can be read")
        if schema in _CATALOGS_REFUSED or schema.startswith("__") or (schema and not _IDENT.match(schema)):
            raise self._denied(shown, node, "DuckDB's own catalogs cannot be read")
        if not catalog and not schema and table in _SYSTEM_NAMES:
            raise self._denied(
                shown, node, f"names a DuckDB system view; a lake table of that name is lake.main.{table}"
            )
        namespace = collection_namespace(table) if schema == VECTORS_NAMESPACE else schema or "main"
        if self.grant.namespaces is not None and namespace not in self.grant.namespaces:
            raise self._denied(shown, node, f"this key may not read the namespace {namespace!r}")
        if schema == REPLAY_NAMESPACE and self.grant.memory != "all":
            raise self._denied(shown, node, _REPLAY_REFUSED)
        if schema == OBSERVE_NAMESPACE and self.grant.tenant is not None:  # a tenant's spans and scores only
            if node.get("at_clause") is not None:
                raise self._denied(shown, node, "time travel on observe tables needs a key not bound to a tenant")
            where = f"tenant = {_quote(self.grant.tenant)}"
            self._replace(node, f"SELECT * FROM {LAKE}.{OBSERVE_NAMESPACE}.{quote(table)} WHERE {where}", alias=table)  # noqa: S608 (validated name, quoted literal)

    def _memory_table(self, node: dict[str, Any], table: str) -> None:
        if self.grant.memory == "none":
            raise self._denied(
                f"memory.{table}", node, "the memory tables need an admin key or a key bound to a tenant"
            )
        self.reads_memory = True
        node["catalog_name"], node["schema_name"] = MEMORY, "main"
        if self.grant.memory == "tenant":
            assert self.grant.tenant is not None
            self._replace(node, _tenant_filter(table, self.grant.tenant), alias=table)

    def _table_function(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        function = node.get("function") or {}
        name = str(function.get("function_name", "")).lower()
        catalog = str(function.get("catalog") or "").lower()
        schema = str(function.get("schema") or "").lower()
        if catalog not in ("", "system") or schema not in ("", "main"):
            raise self._forbidden_function(name, function, "qualified by another catalog")
        if name not in TABLE_FUNCTIONS:
            raise self._forbidden_function(name, function)
        args = function.get("children") or []
        for arg in args:
            self.visit(arg, ctes)
        if name in _LAKE_LISTINGS or name in _LAKE_TABLE_FUNCTIONS:
            self._lake_arguments(name, function, args)
        if name in _CATALOG_LISTINGS:
            self._replace(node, _catalog_filter(name, self.grant), alias=node.get("alias") or name)

    def _lake_arguments(self, name: str, function: dict[str, Any], args: list[Any]) -> None:
        if not args or _constant(args[0]) != LAKE:
            raise self._forbidden_function(name, function, "its first argument must be the string 'lake'")
        if name in _LAKE_LISTINGS:
            if self.grant.namespaces is not None:
                raise self._denied(f"{name}()", function, "it lists every namespace; this key reads only some")
            return
        schema, table = (_constant(args[1]) if len(args) > 1 else None), (_constant(args[2]) if len(args) > 2 else None)
        if schema is None or table is None:
            raise self._forbidden_function(name, function, "its schema and table must be string constants")
        namespace = collection_namespace(table.lower()) if schema.lower() == VECTORS_NAMESPACE else schema.lower()
        if self.grant.namespaces is not None and namespace not in self.grant.namespaces:
            raise self._denied(f"{schema}.{table}", function, f"this key may not read the namespace {schema!r}")
        if schema.lower() == OBSERVE_NAMESPACE and self.grant.tenant is not None:
            raise self._denied(f"{schema}.{table}", function, "a key bound to a tenant reads observe tables directly")
        if schema.lower() == REPLAY_NAMESPACE and self.grant.memory != "all":
            raise self._denied(f"{schema}.{table}", function, _REPLAY_REFUSED)

    def _replace(self, node: dict[str, Any], subquery_sql: str, alias: str) -> None:
        """Make the table reference ``node`` a subquery (keeping its alias, column aliases and sample)."""
        statement = _serialize(subquery_sql)["statements"][0]
        replacement = {
            "type": "SUBQUERY",
            "alias": alias,
            "sample": node.get("sample"),
            "query_location": node.get("query_location", _NOWHERE),
            "subquery": statement,
            "column_name_alias": node.get("column_name_alias", []),
        }
        node.clear()
        node.update(replacement)
        self.rewritten = True


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tenant_filter(table: str, tenant: str) -> str:
    t = _quote(tenant)
    if table == "memories":
        return f"SELECT * FROM memory.main.memories WHERE tenant = {t}"  # noqa: S608 (quoted literal)
    if table == "revisions":
        return (
            "SELECT * FROM memory.main.revisions WHERE memory_id IN "  # noqa: S608 (quoted literal)
            f"(SELECT id FROM memory.main.memories WHERE tenant = {t})"
        )
    return f"SELECT * FROM memory.main.events WHERE json_extract_string(scope_key, '$[0]') = {t}"  # noqa: S608


def _catalog_filter(name: str, grant: Grant) -> str:
    visible = f"database_name = {_quote(LAKE)}"
    if grant.namespaces is not None:
        names = ", ".join(_quote(n) for n in sorted(grant.namespaces)) or "NULL"
        visible += f" AND schema_name IN ({names})"
    if grant.memory != "none":
        visible = f"({visible}) OR (database_name = {_quote(MEMORY)} AND schema_name = 'main')"
    return f"SELECT * FROM {name}() WHERE {visible}"  # noqa: S608 (constant names, quoted literals)


def _explained(sql: str) -> tuple[str, int] | None:
    """For ``EXPLAIN [ANALYZE] <statement>``: the statement and where it starts; None for any other statement."""
    tokens = duckdb.tokenize(sql)
    words: list[tuple[int, str]] = []
    for index, (start, kind) in enumerate(tokens[:3]):
        end = tokens[index + 1][0] if index + 1 < len(tokens) else len(sql)
        words.append((start, sql[start:end].strip().lower() if kind == duckdb.token_type.keyword else ""))
    if not words or words[0][1] != "explain":
        return None
    rest = 2 if len(words) > 1 and words[1][1] == "analyze" else 1
    if rest >= len(words):
        return None
    start = words[rest][0]
    return sql[start:], start


def judge(sql: str, grant: Grant = UNRESTRICTED) -> Verdict:
    """Accept one read statement whose every function and table is allowed to ``grant``, or raise: InvalidSql (it
    does not parse), ForbiddenStatement (not exactly one SELECT/EXPLAIN), ForbiddenFunction, PermissionDenied."""
    if len(sql) <= _REMEMBERED_SQL:
        return _remembered(sql, grant)
    return _judge(sql, grant)


_REMEMBERED_SQL = 4096
_ALLOWED_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


def _judge(sql: str, grant: Grant) -> Verdict:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidSql(str(exc).split("\n")[0], field="sql") from exc
    if len(statements) != 1:
        raise ForbiddenStatement(
            f"send exactly one statement (got {len(statements)})",
            errors=[ErrorItem(kind="forbidden_statement", field="sql", reason="exactly one statement is allowed")],
        )
    kind = statements[0].type
    if kind not in _ALLOWED_STATEMENTS:
        raise ForbiddenStatement(
            f"{kind.name} statements are not allowed: /v1/sql is read-only (SELECT, EXPLAIN)",
            errors=[ErrorItem(kind="forbidden_statement", field="sql", reason=f"{kind.name} is not a read")],
        )
    prefix, body, offset = "", sql, 0
    if kind == duckdb.StatementType.EXPLAIN:
        explained = _explained(sql)
        if explained is None:
            raise ForbiddenStatement(
                "EXPLAIN takes the form EXPLAIN [ANALYZE] SELECT ...",
                errors=[ErrorItem(kind="forbidden_statement", field="sql", reason="unsupported EXPLAIN form")],
            )
        body, offset = explained
        prefix = sql[:offset]
    tree = _serialize(body)
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        message = str(tree.get("error_message") or "not one statement")
        raise ForbiddenStatement(
            f"this form of statement is not available over /v1/sql ({message})",
            errors=[ErrorItem(kind="forbidden_statement", field="sql", reason="only SELECT queries are judged")],
        )
    walk = _Judge(grant, offset)
    walk.visit(tree["statements"][0], frozenset())
    if not walk.rewritten:
        return Verdict(sql=sql, reads_memory=walk.reads_memory)
    return Verdict(sql=prefix + _deserialize(tree), reads_memory=walk.reads_memory)


@functools.lru_cache(maxsize=2048)
def _remembered(sql: str, grant: Grant) -> Verdict:  # refusals raise, so only accepted statements are remembered
    return _judge(sql, grant)
