"""Docs kept with the code: every setting, command, route and error kind is documented."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from lakehouse.app import create_app
from lakehouse.cli import cli
from lakehouse.config import Settings, env_name, iter_settings
from lakehouse.errors import LakehouseError

DOCS = Path(__file__).parent.parent / "docs"


def all_commands(group: click.Command = cli, prefix: str = "lakehouse") -> Iterator[tuple[str, click.Command]]:
    yield prefix, group
    if isinstance(group, click.Group):
        for name, sub in group.commands.items():
            yield from all_commands(sub, f"{prefix} {name}")


@pytest.mark.parametrize("key", [k for k, _, _ in iter_settings(Settings())])
def test_every_setting_is_documented(key: str) -> None:
    text = (DOCS / "operations.md").read_text()
    assert f"`{key}`" in text, f"setting {key} missing from docs/operations.md"
    assert f"`{env_name(key)}`" in text, f"{env_name(key)} missing from docs/operations.md"


@pytest.mark.parametrize("path", [p for p, _ in all_commands()])
def test_every_command_is_documented(path: str) -> None:
    assert f"`{path}" in (DOCS / "operations.md").read_text(), f"{path} missing from docs/operations.md"


def test_every_route_is_documented(tmp_path: Path) -> None:
    text = (DOCS / "api.md").read_text()
    app = create_app(Settings(data_dir=tmp_path))
    for path, ops in app.openapi()["paths"].items():
        for method in ops:
            assert f"`{method.upper()} {path}`" in text, f"{method.upper()} {path} missing from docs/api.md"
    assert "`GET /openapi.json`" in text


def _kinds() -> set[str]:
    kinds: set[str] = set()
    stack: list[type[LakehouseError]] = [LakehouseError]
    while stack:
        cls = stack.pop()
        kinds.add(cls.kind)
        stack.extend(cls.__subclasses__())
    from lakehouse.validation.report import KINDS
    from lakehouse.wire import _KINDS as _PYDANTIC_KINDS

    return kinds | set(_PYDANTIC_KINDS.values()) | {"type", "invalid_value"} | set(KINDS) | {"breaking_change"}


@pytest.mark.parametrize("kind", sorted(_kinds()))
def test_every_error_kind_is_documented(kind: str) -> None:
    text = (DOCS / "wire-format.md").read_text()
    assert re.search(rf"^#+ `{kind}`", text, re.MULTILINE), f"kind {kind} has no section in docs/wire-format.md"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", readme, re.DOTALL)
    assert blocks[0].strip() == "make run" and blocks[1].strip() == "make test"
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "make test" in ci
