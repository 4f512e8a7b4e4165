"""What a collection is: its name, dimension, metric and embedder, as the store keeps and answers it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

METRICS = ("cosine", "dot", "l2")
MAX_DIM = 65536


@dataclass(frozen=True)
class Collection:
    name: str
    uid: str
    dim: int
    metric: str
    embedder: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "metric": self.metric,
            "embedder": self.embedder,
            "created_at": self.created_at.isoformat(),
        }
