"""The schema registry on SQLite and PostgreSQL: versions, no-op re-registration, breaking changes, retirement."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from lakehouse.errors import (
    BreakingChange,
    InvalidName,
    InvalidSchema,
    SchemaNotFound,
    SchemaRetired,
    UnresolvableRef,
)
from lakehouse.opsdb import create_engine, upgrade
from lakehouse.validation import SchemaCache, SchemaRegistry, Validation

V1: dict[str, Any] = {"type": "object", "properties": {"id": {"type": "integer"}, "tag": {"enum": ["a", "b"]}}}


@pytest.fixture
def engine(opsdb_url: str) -> Iterator[sa.Engine]:
    made = create_engine(opsdb_url)
    upgrade(made)
    yield made
    made.dispose()


def _rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT * FROM schema_versions ORDER BY name, version"))]


def test_registry_lifecycle(engine: sa.Engine) -> None:
    registry = SchemaRegistry(engine, SchemaCache())
    first = registry.register("order", V1, description="An order")
    assert first.created and first.version.version == 1 and first.version.draft == "2020-12"
    again = registry.register("order", {"properties": V1["properties"], "type": "object"})  # same document, reordered
    assert not again.created and again.version.version == 1

    before = _rows(engine)
    narrower = {**V1, "required": ["id"], "properties": {**V1["properties"], "tag": {"enum": ["a"]}}}
    with pytest.raises(BreakingChange) as refused:
        registry.register("order", narrower)
    assert [e.extra["ctx"]["change"] for e in refused.value.errors] == ["required_added", "enum_shrunk"]
    assert _rows(engine) == before, "a refused registration wrote something"

    forced = registry.register("order", narrower, force=True).version
    assert forced.version == 2 and [c["ctx"]["change"] for c in forced.breaking_changes] == [
        "required_added",
        "enum_shrunk",
    ]
    wider = {**narrower, "properties": {**narrower["properties"], "note": {"type": "string"}}}
    assert registry.register("order", wider).version.version == 3  # adding an optional property breaks nothing

    assert registry.get("order").version == 3
    assert registry.get("order", 1).schema_ == V1
    registry.retire("order", 3)
    assert registry.retire("order", 3).retired_at is not None  # idempotent
    assert registry.get("order").version == 2, "latest skips a retired version"
    # the next registration compares against the newest live version (2) and numbers after the newest (3)
    assert registry.register("order", V1, force=True).version.version == 4
    for version in (1, 2, 4):
        registry.retire("order", version)
    with pytest.raises(SchemaRetired):
        registry.get("order")
    assert [v.version for v in registry.versions("order")] == [1, 2, 3, 4]
    summary = registry.list()
    assert summary[0].name == "order" and summary[0].versions == 4 and summary[0].latest_version is None

    with pytest.raises(SchemaNotFound):
        registry.get("nobody")
    with pytest.raises(SchemaNotFound):
        registry.get("order", 9)
    with pytest.raises(InvalidName):
        registry.register("no spaces", V1)


def test_bad_documents_write_nothing(engine: sa.Engine) -> None:
    registry = SchemaRegistry(engine, SchemaCache())
    with pytest.raises(InvalidSchema) as bad:
        registry.register("s", {"type": "objekt", "minimum": "1"})
    assert {e.pointer for e in bad.value.errors} == {"/schema/type", "/schema/minimum"}
    with pytest.raises(UnresolvableRef) as remote:
        registry.register("s", {"properties": {"a": {"$ref": "https://example.com/a.json"}}})
    assert remote.value.errors[0].pointer == "/schema/properties/a/$ref"
    assert _rows(engine) == []


def test_concurrent_registrations_get_distinct_versions(engine: sa.Engine) -> None:
    registry = SchemaRegistry(engine, SchemaCache())
    errors: list[BaseException] = []

    def register(n: int) -> None:
        try:
            registry.register("counter", {"type": "object", "properties": {f"p{n}": {}}})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # each new version drops the previous one's only property: breaking, so all but the first are refused
    versions = [v.version for v in registry.versions("counter")]
    assert versions == [1]
    assert len(errors) == 5 and all(isinstance(e, BreakingChange) for e in errors)


def test_validation_by_name_and_inline(engine: sa.Engine) -> None:
    cache = SchemaCache(size=2)
    registry = SchemaRegistry(engine, cache)
    validation = Validation(registry, cache, max_errors=100, max_batch=10)
    registry.register("order", V1)
    assert validation.validate("order", {"id": 1}).valid
    verdict = validation.validate("order@1", {"id": "x", "tag": "c"})
    assert [(e.kind, e.field) for e in verdict.errors] == [("type", "id"), ("enum", "tag")]
    assert validation.validate({"type": "string"}, "x").valid
    for n in range(3):
        validation.validate({"maxLength": n}, "abc")
    assert len(cache) == 2, "the compile cache holds at most its size"
    batch = validation.validate_many("order", [{"id": 1}, {"id": "x"}, {}])
    assert (batch.valid_count, batch.invalid_count) == (2, 1) and batch.results[1].errors[0].kind == "type"
