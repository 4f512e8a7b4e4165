"""Vector collections: points (string id, vector, metadata, text) kept as lake rows, searched by nearest
neighbour with metadata filters, from any process on the same lake."""

from lakehouse.vectors.model import METRICS, Collection
from lakehouse.vectors.state import Point
from lakehouse.vectors.store import VectorStore

__all__ = ["METRICS", "Collection", "Point", "VectorStore"]
