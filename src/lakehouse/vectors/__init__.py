"""Vector collections: points (string id, vector, metadata, text) kept as lake rows, searched by nearest
neighbour with metadata filters, from any process on the same lake."""

from lakehouse.vectors.model import (
    METRICS,
    Collection,
    CollectionInfo,
    CreateCollection,
    DeletedCollection,
    DeletedPoints,
    DeletePoints,
    Hit,
    StoredPoint,
    Upserted,
    UpsertPoints,
    VectorBatches,
    VectorQuery,
    VectorResults,
    VectorSearch,
)
from lakehouse.vectors.state import Point
from lakehouse.vectors.store import VectorStore

__all__ = [
    "METRICS",
    "Collection",
    "CollectionInfo",
    "CreateCollection",
    "DeletePoints",
    "DeletedCollection",
    "DeletedPoints",
    "Hit",
    "Point",
    "StoredPoint",
    "UpsertPoints",
    "Upserted",
    "VectorBatches",
    "VectorQuery",
    "VectorResults",
    "VectorSearch",
    "VectorStore",
]
