"""What the operations routes answer: ``Health`` (``GET /health``) and ``Readiness`` (``GET /ready``), with one
``StoreCheck`` per store (the operational DB, the blob store, the lake)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lakehouse.wire import Answer, omitted


class Health(Answer):
    status: Literal["ok"]
    version: str
    services: list[str] = Field(description="The services this process serves.")


class StoreCheck(Answer):
    """One store reached once: ``ok``, how long it took, and what it said (``error`` when it failed)."""

    ok: bool
    latency_ms: float
    error: str | None = omitted("Why the store could not be reached (a failed check only).")


class Readiness(Answer):
    status: Literal["ready"]
    checks: dict[str, StoreCheck]
