"""Idempotency keys for write requests, in the operational DB.

A request carrying ``Idempotency-Key`` claims (owner, key) with the hash of everything it asked for. A retry with
the same key and the same request gets the first response and writes nothing; the same key with a different
request is refused (409 ``idempotency_conflict``); a retry while the first is still running is refused (409
``idempotency_in_progress``). A failed request releases its claim, so it can be retried. The write itself also
records the key in its lake commit, so a process that dies after committing but before recording the response is
recognised on retry (see ``tables.ingest``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lakehouse.errors import BadRequest, IdempotencyConflict, IdempotencyInProgress
from lakehouse.opsdb.schema import idempotency_keys

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def validate_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1-255 visible ASCII characters", field="Idempotency-Key")
    return key


@dataclass(frozen=True)
class Claim:
    """``response`` is set when this is a retry of a finished request: send it and do nothing else."""

    owner: str
    key: str
    request_hash: str
    response: dict[str, Any] | None = None
    pending_retry: bool = False  # the first attempt never recorded an outcome
    pending_seconds: float = 0.0

    @property
    def token(self) -> str:
        """What the write records in its lake commit, to be recognised after a crash."""
        return f"{self.owner}:{self.key}:{self.request_hash}"


class IdempotencyStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def claim(self, owner: str, key: str, request_hash: str) -> Claim:
        validate_key(key)
        now = datetime.now(UTC)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    idempotency_keys.insert().values(
                        owner=owner, key=key, request_hash=request_hash, state="pending", created_at=now
                    )
                )
            return Claim(owner, key, request_hash)
        except sa.exc.IntegrityError:
            pass
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(idempotency_keys).where(idempotency_keys.c.owner == owner, idempotency_keys.c.key == key)
            ).first()
        if row is None:  # released between our insert and select: try once more
            return self.claim(owner, key, request_hash)
        if row.request_hash != request_hash:
            raise IdempotencyConflict(
                "this Idempotency-Key was used for a different request; use a new key", field="Idempotency-Key"
            )
        if row.state == "done":
            return Claim(owner, key, request_hash, response=json.loads(row.response))
        created = row.created_at
        age = (datetime.now(UTC) - created).total_seconds()
        return Claim(owner, key, request_hash, pending_retry=True, pending_seconds=age)

    def take_over(self, claim: Claim) -> None:
        """Restart the clock of an abandoned pending claim before running the request again."""
        with self._engine.begin() as conn:
            conn.execute(
                idempotency_keys.update()
                .where(idempotency_keys.c.owner == claim.owner, idempotency_keys.c.key == claim.key)
                .values(created_at=datetime.now(UTC))
            )

    @staticmethod
    def in_progress() -> IdempotencyInProgress:
        return IdempotencyInProgress(
            "a request with this Idempotency-Key is still running; retry later", field="Idempotency-Key"
        )

    def complete(self, claim: Claim, response: dict[str, Any]) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                idempotency_keys.update()
                .where(idempotency_keys.c.owner == claim.owner, idempotency_keys.c.key == claim.key)
                .values(state="done", response=json.dumps(response), completed_at=datetime.now(UTC))
            )

    def release(self, claim: Claim) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                idempotency_keys.delete().where(
                    idempotency_keys.c.owner == claim.owner,
                    idempotency_keys.c.key == claim.key,
                    idempotency_keys.c.state == "pending",
                )
            )
