"""The vectors library's wire models: collections and their points, as callers send them and read them back.

Requests: ``CreateCollection``, ``UpsertPoints``, ``DeletePoints``, ``VectorQuery`` / ``VectorSearch``. Answers:
``Collection``, ``CollectionInfo`` (with count, index state, memory), ``DeletedCollection``, ``Upserted``,
``DeletedPoints``, ``Hit``, ``StoredPoint``, ``VectorResults`` / ``VectorBatches``. A point's checks against its
collection (dimension, finite numbers, ids) stay in ``vectors.points``, which reports ``invalid_point`` per index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, JsonValue

from lakehouse.tables.names import IDENTIFIER_PATTERN
from lakehouse.wire import Answer, WireModel, documented, omitted

METRICS = ("cosine", "dot", "l2")
MAX_DIM = 65536
Metric = Literal["cosine", "dot", "l2"]
Include = Literal["metadata", "text", "vector"]
Filter = dict[str, JsonValue]


class Collection(Answer):
    """A collection: its name, dimension, metric and embedder (``uid`` names its index files, never shown)."""

    model_config = ConfigDict(frozen=True)

    name: str
    uid: str = Field(exclude=True)
    dim: int
    metric: Metric
    embedder: str | None
    created_at: datetime


class IndexState(Answer):
    kind: str = Field(description="flat or hnsw.")
    snapshot_id: int = Field(description="The lake snapshot this process's state reflects.")
    saved_snapshot_id: int | None = Field(description="The snapshot of the saved index (None: none saved).")


class CollectionInfo(Collection):
    count: int
    index: IndexState
    memory_bytes: int


class DeletedCollection(Answer):
    deleted: Collection


class Upserted(Answer):
    upserted: int
    snapshot_id: int


class DeletedPoints(Answer):
    deleted: int
    snapshot_id: int


class StoredPoint(Answer):
    id: str
    metadata: dict[str, JsonValue] | None = omitted()
    text: str | None = omitted()
    vector: list[float] | None = omitted()


class Hit(StoredPoint):
    score: float


class VectorResults(Answer):
    results: list[Hit]


class VectorBatches(Answer):
    batches: list[VectorResults]


class CreateCollection(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "docs", "dim": 384, "metric": "cosine"}]})

    name: Annotated[str, documented(IDENTIFIER_PATTERN)] = Field(
        description="A lowercase identifier (a-z, 0-9, _), unique."
    )
    dim: int = Field(ge=1, le=MAX_DIM, description="The vectors' dimension.")
    metric: Metric = Field("cosine", description="cosine, dot or l2.")
    embedder: str | None = Field(None, description="The model that embeds texts (GET /v1/embed/models); default.")


class UpsertPoints(WireModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"points": [{"id": "a", "vector": [0.1, 0.2], "metadata": {"lang": "en"}}]}]}
    )

    points: list[dict[str, JsonValue]] = Field(
        description='[{"id", "vector"? | "text"?, "metadata"?, "text"?}], stored as one commit.'
    )


class DeletePoints(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ids": ["a"]}]})

    ids: list[str] | None = Field(None, description="The points to delete.")
    filter: Filter | None = Field(None, description="Or: delete the points whose metadata matches this filter.")


class VectorQuery(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"vector": [0.1, 0.2], "k": 5}]})

    vector: list[float] | None = Field(None, description="The query vector.")
    text: str | None = Field(None, description="Or a text, embedded by the collection's embedder.")
    k: int = Field(10, description="How many results (1 to vectors.max_k).")
    filter: Filter | None = Field(None, description="Only points whose metadata matches (the filter language).")
    include: list[Include] = Field(["metadata"], description="What each result carries besides id and score.")


class VectorSearch(VectorQuery):
    """One query (``vector`` or ``text``), or a batch (``queries``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"vector": [0.1, 0.2], "k": 5}],
            "anyOf": [{"required": ["vector"]}, {"required": ["text"]}, {"required": ["queries"]}],
        }
    )

    queries: list[VectorQuery] | None = Field(None, min_length=1, description="A batch: each query answered in turn.")
