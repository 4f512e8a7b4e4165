"""Libraries import downward only: the import-linter layers contract of pyproject.toml is kept, and no two
modules of one package import each other, directly or round a loop (TYPE_CHECKING imports count: a loop that
only type checking closes is still two halves of one concept)."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_the_layers_contract_is_kept(tmp_path: Path) -> None:
    # lint-imports configures logging with dictConfig, which disables every logger that exists already: put them
    # back, or a later test in this process (the access log's) finds its logger silenced
    before = {
        name: logger.disabled
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    try:
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    finally:
        for name, disabled in before.items():
            logging.getLogger(name).disabled = disabled
    assert code == 0, "lint-imports: a layer imports one above it, or two packages of one layer import each other"


def loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_loops_finds_a_loop_and_only_a_loop() -> None:
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert loops({"a": {"b"}, "b": set()}) == []


def test_no_two_modules_of_a_package_import_each_other() -> None:
    graph = grimp.build_graph("lakehouse", cache_dir=None)
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        package = module.rpartition(".")[0]
        for imported in graph.find_modules_directly_imported_by(module):
            # modules of one package; a package's __init__ re-exporting its modules is not a loop
            if imported.rpartition(".")[0] == package and imported != package:
                edges[module].add(imported)
    assert loops(edges) == []
