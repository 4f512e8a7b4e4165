"""The tables library's wire models: what callers send to make and change datasets, and what they read back.

Requests: ``CreateDataset``, ``PatchDataset``, ``ColumnSpec``. Answers: ``Dataset`` (with its ``Column`` s),
``DatasetRef`` (a list entry), ``Snapshot``, ``Snapshots``, ``Dropped``. The route, ``Lakehouse.datasets``, the
client and the CLI share them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field, JsonValue

from lakehouse.tables.names import DATASET_PATTERN, IDENTIFIER_PATTERN
from lakehouse.wire import Answer, Time, WireModel, documented, omitted

READY: Final = "ready"
AWAITING_FIRST_INGEST: Final = "awaiting_first_ingest"
State = Literal["ready", "awaiting_first_ingest"]


class Column(Answer):
    model_config = ConfigDict(frozen=True)

    name: str
    type: str = Field(description="The DuckDB type: BIGINT, VARCHAR, DOUBLE, DECIMAL(p,s), TIMESTAMP, VARCHAR[], ...")
    nullable: bool = True


class Dataset(Answer):
    """A dataset as it is now: its columns, size and the snapshot it was read at."""

    model_config = ConfigDict(frozen=True)

    namespace: str
    name: str
    description: str | None
    columns: list[Column]
    row_count: int
    size_bytes: int
    file_count: int
    snapshot_id: int
    created_at: datetime | None
    updated_at: datetime | None
    state: State = Field(
        READY, description="`awaiting_first_ingest`: created without columns; the first ingest sets them."
    )


class DatasetRef(Answer):
    namespace: str
    name: str


class Snapshot(Answer):
    """A lake snapshot that changed a dataset, with the rows it changed (None where the files are gone)."""

    model_config = ConfigDict(frozen=True)

    id: int
    time: datetime
    operations: dict[str, list[str]]
    rows_inserted: int | None = None
    rows_deleted: int | None = None
    rows_updated: int | None = None


class Snapshots(Answer):
    items: list[Snapshot]


class Dropped(Answer):
    dropped: str = Field(description="The dataset's name as given.")
    snapshot_id: int = Field(description="The snapshot that dropped it (time travel before it still reads it).")


class ColumnSpec(WireModel):
    name: Annotated[str, documented(IDENTIFIER_PATTERN)] = Field(description="Lowercase identifier.", examples=["id"])
    type: str = Field(description="BIGINT, VARCHAR, DOUBLE, DECIMAL(p,s), TIMESTAMP, VARCHAR[], ... (docs/api.md).")
    nullable: bool = True


class CreateDataset(WireModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "crm.people",
                    "columns": [{"name": "id", "type": "BIGINT"}, {"name": "name", "type": "VARCHAR"}],
                }
            ]
        }
    )

    name: Annotated[str, documented(DATASET_PATTERN)] = Field(
        description="`name` or `namespace.name`, lowercase identifiers."
    )
    namespace: Annotated[str, documented(IDENTIFIER_PATTERN)] | None = Field(None, description="Defaults to `main`.")
    columns: list[ColumnSpec] | None = Field(
        None, min_length=1, description="The dataset's columns, in order. Leave out to let the first ingest infer them."
    )
    description: str | None = Field(None, max_length=4000)


class PatchDataset(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"description": "Customers of the CRM"}]})

    name: Annotated[str, documented(IDENTIFIER_PATTERN)] | None = Field(
        None, description="New name, in the same namespace."
    )
    description: str | None = Field(None, max_length=4000)


class IngestSummary(Answer):
    """What an ingest wrote: one lake commit (``snapshot_id``); with a schema, the rows it refused."""

    dataset: str = Field(description="`namespace.name`.")
    mode: Literal["append", "overwrite", "upsert"]
    rows_written: int
    snapshot_id: int
    bytes_read: int
    duration_ms: float | None = omitted("How long the write took (left out of an answer replayed from its commit).")
    created: bool = Field(description="Whether this ingest made the dataset.")
    schema_changes: list[dict[str, str]] = Field(description="Columns added or widened: `{change, column, ...}`.")
    schema_: str | None = omitted("With ?schema=: the schema the rows were checked against.", alias="schema")
    rows_rejected: int | None = omitted("With ?schema=: rows that failed it.")
    rejected: list[dict[str, JsonValue]] | None = omitted("With ?schema=: `{row, errors}` of the rows refused.")
    replayed_from_commit: bool | None = omitted(
        "A retried Idempotency-Key whose first attempt committed: the answer read back from that commit."
    )


class SqlRequest(WireModel):
    """One read-only statement over the lake, with its parameters, time travel and limits."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"sql": "SELECT count(*) FROM crm.people"}]})

    sql: str = Field(min_length=1, max_length=1_000_000, description="One SELECT (or EXPLAIN) statement.")
    params: list[JsonValue] | dict[str, JsonValue] | None = Field(
        None, description="Values for `?` or `$name` placeholders."
    )
    snapshot: int | None = Field(None, ge=0, description="Read every table as of this snapshot id.")
    as_of: Time | None = Field(None, description="Read every table as of this time.")
    max_rows: int | None = Field(None, ge=1, description="Most rows to return (capped by lake.query_max_rows).")
    timeout_ms: int | None = Field(None, ge=1, description="Time limit (capped by lake.query_timeout_ms).")
    query_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Your id for this query, to cancel it with DELETE /v1/queries/{id} while it runs; "
        "generated when left out. Returned in the X-Lakehouse-Query-Id header.",
    )


class ResultColumn(Answer):
    name: str
    type: str


class SqlAnswer(Answer):
    """A result as JSON (``Accept: application/json``, the default)."""

    columns: list[ResultColumn]
    rows: list[list[JsonValue]] = Field(description="Rows as lists, in column order; nested values as JSON.")
    row_count: int
    truncated: bool = Field(description="More rows than max_rows (or lake.query_max_rows) were there.")
    snapshot_id: int = Field(description="The lake snapshot read.")
    elapsed_ms: float
    query_id: str


class RunningQuery(Answer):
    query_id: str
    sql: str
    started_at: datetime
    elapsed_ms: float
    cancelled: bool


class RunningQueries(Answer):
    items: list[RunningQuery]


class CancelledQuery(Answer):
    query_id: str
    cancelled: Literal[True]
