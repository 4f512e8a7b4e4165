"""What a memory is: its ``Scope``, the ``Memory`` head as callers see it, and the checks of what callers send.

A memory lives in exactly one scope (a tenant, and any of user, agent and run); every read and write names the
scope and sees nothing outside it. Its content is compared for deduplication after normalization (Unicode NFKC,
case folded, runs of whitespace made one space, trimmed).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lakehouse.errors import ErrorItem, RequestValidationFailed

KINDS = ("fact", "pathway", "playbook")
STATUSES = ("active", "superseded", "retired")
SCOPE_FIELDS = ("tenant", "user_id", "agent_id", "run_id")
MAX_SCOPE_PART = 200
MAX_CONTENT = 100_000
MAX_TAGS = 64
SYSTEM_ACTOR = "anonymous"


@dataclass(frozen=True)
class Scope:
    tenant: str
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    @property
    def key(self) -> str:
        """One canonical string for the whole scope (what the database matches on)."""
        return json.dumps([self.tenant, self.user_id, self.agent_id, self.run_id], separators=(",", ":"))

    def to_dict(self) -> dict[str, str]:
        return {name: value for name in SCOPE_FIELDS if (value := getattr(self, name)) is not None}

    @classmethod
    def parse(cls, value: Any, where: str = "scope") -> Scope:
        """``{"tenant", "user_id"?, "agent_id"?, "run_id"?}`` checked whole; 422 naming every bad part."""
        if isinstance(value, Scope):
            return value
        problems: list[ErrorItem] = []
        if not isinstance(value, dict):
            raise RequestValidationFailed(
                "scope is an object with a tenant, and any of user_id, agent_id and run_id", field=where
            )
        for name in value:
            if name not in SCOPE_FIELDS:
                problems.append(_problem(f"{where}.{name}", f"unknown scope field; use {', '.join(SCOPE_FIELDS)}"))
        parts: dict[str, str | None] = {}
        for name in SCOPE_FIELDS:
            part = value.get(name)
            if part is None and name != "tenant":
                parts[name] = None
            elif not isinstance(part, str) or not part.strip() or len(part) > MAX_SCOPE_PART:
                problems.append(_problem(f"{where}.{name}", f"a non-empty string of at most {MAX_SCOPE_PART}"))
            else:
                parts[name] = part
        if problems:
            raise RequestValidationFailed("the scope is not valid", errors=problems)
        return cls(
            tenant=str(parts["tenant"]),
            user_id=parts["user_id"],
            agent_id=parts["agent_id"],
            run_id=parts["run_id"],
        )


def _problem(where: str, reason: str) -> ErrorItem:
    return ErrorItem(kind="validation_failed", field=where, reason=reason)


def normalized(content: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", content).casefold().split())


def content_hash(content: str) -> str:
    return hashlib.sha256(normalized(content).encode()).hexdigest()


@dataclass
class Memory:
    id: str
    scope: Scope
    kind: str
    content: str
    data: Any
    metadata: dict[str, Any]
    tags: list[str]
    status: str
    version: int
    valid_from: datetime | None
    valid_until: datetime | None
    recorded_at: datetime
    updated_at: datetime
    retired_at: datetime | None = None
    retired_reason: str | None = None
    superseded_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what one operation adds to its answer (deduplicated)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope.to_dict(),
            "kind": self.kind,
            "content": self.content,
            "data": self.data,
            "metadata": self.metadata,
            "tags": self.tags,
            "status": self.status,
            "version": self.version,
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until),
            "recorded_at": _iso(self.recorded_at),
            "updated_at": _iso(self.updated_at),
            "retired_at": _iso(self.retired_at),
            "retired_reason": self.retired_reason,
            "superseded_by": self.superseded_by,
            **self.extra,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def aware(value: datetime | None) -> datetime | None:
    """A time read back from the database, in UTC (SQLite gives it back without a zone)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_content(value: Any, where: str, problems: list[ErrorItem]) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(_problem(where, "a non-empty string"))
        return None
    if len(value) > MAX_CONTENT:
        problems.append(_problem(where, f"at most {MAX_CONTENT:,} characters"))
        return None
    return value


def check_metadata(value: Any, where: str, problems: list[ErrorItem]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(_problem(where, "a JSON object"))
        return {}
    return value


def check_tags(value: Any, where: str, problems: list[ErrorItem]) -> list[str]:
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_TAGS
        or not all(isinstance(t, str) and t.strip() and len(t) <= 200 for t in value)
    ):
        problems.append(_problem(where, f"a list of at most {MAX_TAGS} non-empty strings"))
        return []
    return sorted(set(value))


def check_time(value: Any, where: str, problems: list[ErrorItem]) -> datetime | None:
    """An ISO 8601 time (a datetime in-process); one without a zone is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            problems.append(_problem(where, "an ISO 8601 time, e.g. 2026-01-31T12:00:00Z"))
            return None
    else:
        problems.append(_problem(where, "an ISO 8601 time, e.g. 2026-01-31T12:00:00Z"))
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_actor(value: Any) -> str:
    if value is None:
        return SYSTEM_ACTOR
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise RequestValidationFailed("actor is a non-empty string of at most 200", field="actor")
    return value


def check_reason(value: Any, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise RequestValidationFailed("reason is a non-empty string of at most 2,000", field="reason")
    return value
