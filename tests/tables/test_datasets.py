"""The dataset catalog on a DuckLake, with a SQLite catalog and with a PostgreSQL catalog."""

from __future__ import annotations

import pytest

from lakehouse.errors import DatasetExists, DatasetNotFound, InvalidColumnType, InvalidName
from lakehouse.tables.datasets import Column, Datasets, split_name
from lakehouse.tables.lake import Lake
from lakehouse.tables.names import normalize_type

COLUMNS = [{"name": "id", "type": "bigint", "nullable": False}, {"name": "name", "type": "varchar"}]


def test_create_describe_list(lake: Lake) -> None:
    datasets = Datasets(lake)
    created = datasets.create("customers", COLUMNS, description="people we sell to")
    assert (created.namespace, created.name, created.description) == ("main", "customers", "people we sell to")
    assert created.columns == [Column("id", "BIGINT", False), Column("name", "VARCHAR", True)]
    assert created.row_count == 0 and created.snapshot_id == lake.current_snapshot()
    assert created.created_at is not None and created.created_at == created.updated_at
    datasets.create(
        "sales.orders", [{"name": "total", "type": "decimal(10, 2)"}, {"name": "tags", "type": "varchar[]"}]
    )
    orders = datasets.get("orders", namespace="sales")
    assert [c.type for c in orders.columns] == ["DECIMAL(10,2)", "VARCHAR[]"]
    assert datasets.list() == [("main", "customers"), ("sales", "orders")]
    assert datasets.list("sales") == [("sales", "orders")]
    with lake.cursor() as cur:
        cur.execute("INSERT INTO lake.main.customers VALUES (1, 'a'), (2, 'b')")
    described = datasets.get("customers")
    assert described.row_count == 2 and described.updated_at is not None
    assert described.updated_at > described.created_at  # type: ignore[operator]


def test_create_refuses_and_changes_nothing(lake: Lake) -> None:
    datasets = Datasets(lake)
    datasets.create("customers", COLUMNS)
    before = lake.current_snapshot()
    with pytest.raises(DatasetExists):
        datasets.create("customers", COLUMNS)
    with pytest.raises(InvalidName):
        datasets.create("Bad-Name", COLUMNS)
    with pytest.raises(InvalidName):
        datasets.create("t", [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}])
    with pytest.raises(InvalidColumnType) as info:
        datasets.create("t", [{"name": "a", "type": "int); DROP TABLE customers; --"}])
    assert info.value.errors[0].field == "columns[0].type"
    with pytest.raises(InvalidColumnType):
        datasets.create("t", [])
    assert lake.current_snapshot() == before
    assert datasets.list() == [("main", "customers")]


def test_rename_describe_drop(lake: Lake) -> None:
    datasets = Datasets(lake)
    datasets.create("customers", COLUMNS)
    datasets.create("other", COLUMNS)
    renamed = datasets.update("customers", new_name="clients", description="renamed")
    assert (renamed.name, renamed.description) == ("clients", "renamed")
    with pytest.raises(DatasetNotFound):
        datasets.get("customers")
    with pytest.raises(DatasetExists):
        datasets.update("clients", new_name="other")
    with lake.cursor() as cur:
        cur.execute("INSERT INTO lake.main.clients VALUES (7, 'x')")
    kept = lake.current_snapshot()
    dropped_at = datasets.drop("clients")
    assert dropped_at > kept
    with pytest.raises(DatasetNotFound):
        datasets.drop("clients")
    with lake.cursor() as cur:  # time travel still reaches the dropped data
        rows = cur.execute(f"SELECT * FROM lake.main.clients AT (VERSION => {kept})").fetchall()
    assert rows == [(7, "x")]


def test_snapshots_of_one_dataset(lake: Lake) -> None:
    datasets = Datasets(lake)
    datasets.create("a", COLUMNS)
    datasets.create("b", COLUMNS)
    with lake.cursor() as cur:
        cur.execute("INSERT INTO lake.main.a VALUES (1, 'x')")
    snaps = datasets.snapshots("a")
    assert len(snaps) == 2 and snaps[0].operations == {"tables_created": ["main.a"]}
    assert [s.id for s in snaps] == sorted(s.id for s in snaps)
    assert len(datasets.snapshots("b")) == 1


def test_two_lakes_on_one_catalog_see_each_other(lake: Lake) -> None:
    """A second process's view (another DuckDB instance on the same catalog) sees a committed create at once."""
    other = Lake(lake.settings)
    try:
        Datasets(lake).create("shared", COLUMNS)
        assert Datasets(other).get("shared").name == "shared"
        with other.cursor() as cur:
            cur.execute("INSERT INTO lake.main.shared VALUES (1, 'from the other')")
        assert Datasets(lake).get("shared").row_count == 1
    finally:
        other.close()


@pytest.mark.parametrize(
    ("given", "expected"),
    [("customers", ("main", "customers")), ("sales.orders", ("sales", "orders")), ("_x1", ("main", "_x1"))],
)
def test_split_name(given: str, expected: tuple[str, str]) -> None:
    assert split_name(given) == expected


@pytest.mark.parametrize(
    "bad", ["", "1abc", "Customers", "a-b", "a b", "a;b", "x" * 64, "a.b.c", "information_schema.t", 'a"b']
)
def test_bad_names(bad: str) -> None:
    with pytest.raises(InvalidName):
        split_name(bad)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("int", "INTEGER"),
        ("text[]", "VARCHAR[]"),
        ("bigint", "BIGINT"),
        ("timestamptz", "TIMESTAMP WITH TIME ZONE"),
        ("timestamp with  time zone", "TIMESTAMP WITH TIME ZONE"),
        ("double[][]", "DOUBLE[][]"),
        ("numeric(38, 10)", "DECIMAL(38,10)"),
        ("decimal(39,1)", None),
        ("decimal(5,6)", None),
        ("int[][][][]", None),
        ("struct(a int)", None),
        ("int); drop table x; --", None),
        ("varchar collate x", None),
        ("", None),
    ],
)
def test_types(given: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidColumnType):
            normalize_type(given)
    else:
        assert normalize_type(given) == expected
