"""The dataset catalog on a DuckLake, with a SQLite catalog and with a PostgreSQL catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.errors import DatasetExists, DatasetNotFound, InvalidColumnType, InvalidName
from lakehouse.tables.datasets import AWAITING_FIRST_INGEST, READY, Column, Datasets, split_name
from lakehouse.tables.ingest import Ingestor
from lakehouse.tables.lake import Lake
from lakehouse.tables.names import normalize_type

COLUMNS = [{"name": "id", "type": "bigint", "nullable": False}, {"name": "name", "type": "varchar"}]


def test_create_describe_list(lake: Lake) -> None:
    datasets = Datasets(lake)
    created = datasets.create("customers", COLUMNS, description="people we sell to")
    assert (created.namespace, created.name, created.description) == ("main", "customers", "people we sell to")
    assert created.columns == [
        Column(name="id", type="BIGINT", nullable=False),
        Column(name="name", type="VARCHAR", nullable=True),
    ]
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


def test_a_dataset_without_columns_awaits_its_first_ingest(lake: Lake, tmp_path: Path) -> None:
    datasets = Datasets(lake)
    created = datasets.create("crm.leads", description="from the web form")
    assert created.state == AWAITING_FIRST_INGEST and created.columns == [] and created.row_count == 0
    assert created.created_at is not None
    assert datasets.list() == [("crm", "leads")] and datasets.list("crm") == [("crm", "leads")]
    assert datasets.snapshots("crm.leads") == []
    with pytest.raises(DatasetExists):
        datasets.create("crm.leads", COLUMNS)
    with pytest.raises(DatasetExists):
        datasets.create("crm.leads")
    datasets.create("crm.taken", COLUMNS)
    with pytest.raises(DatasetExists):
        datasets.update("crm.leads", new_name="taken")
    renamed = datasets.update("crm.leads", new_name="prospects", description="renamed")
    assert (renamed.name, renamed.description, renamed.state) == ("prospects", "renamed", AWAITING_FIRST_INGEST)
    with pytest.raises(DatasetNotFound):
        datasets.get("crm.leads")
    with pytest.raises(InvalidName):
        datasets.create("_lakehouse.pending_datasets")

    source = tmp_path / "rows.ndjson"
    source.write_text('{"id": 1, "email": "a@x"}\n{"id": 2, "email": "b@x"}\n')
    result = Ingestor(lake).ingest_file("crm.prospects", source, "ndjson")  # no create=true needed
    assert result.created and result.rows_written == 2
    ready = datasets.get("crm.prospects")
    assert ready.state == READY and [c.name for c in ready.columns] == ["id", "email"]
    assert ready.description == "renamed" and ready.row_count == 2
    assert datasets.list() == [("crm", "prospects"), ("crm", "taken")]
    assert len(datasets.snapshots("crm.prospects")) == 1


def test_dropping_a_dataset_awaiting_its_first_ingest(lake: Lake, tmp_path: Path) -> None:
    datasets = Datasets(lake)
    datasets.create("leads")
    datasets.drop("leads")
    assert datasets.list() == []
    source = tmp_path / "rows.ndjson"
    source.write_text('{"id": 1}\n')
    with pytest.raises(DatasetNotFound):
        Ingestor(lake).ingest_file("leads", source, "ndjson")


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
        cur.execute("INSERT INTO lake.main.a SELECT range, 'x' FROM range(3)")
        cur.execute("UPDATE lake.main.a SET name = 'y' WHERE id = 1")
        cur.execute("DELETE FROM lake.main.a WHERE id = 2")
    snaps = datasets.snapshots("a")
    assert len(snaps) == 4 and snaps[0].operations == {"tables_created": ["main.a"]}
    assert [s.id for s in snaps] == sorted(s.id for s in snaps)
    changes = [(s.rows_inserted, s.rows_deleted, s.rows_updated) for s in snaps]
    assert changes == [(0, 0, 0), (3, 0, 0), (0, 0, 1), (0, 1, 0)]
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
