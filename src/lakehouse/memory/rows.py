"""How a ``Memory`` maps to the rows of ``memories``, ``memory_revisions`` and ``memory_events``, and the checks
and look-ups every memory operation shares (all called inside the operation's transaction)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lakehouse.errors import (
    ErrorItem,
    MemoryNotFound,
    MemoryRetired,
    MemorySuperseded,
    VersionConflict,
)
from lakehouse.memory.model import Event, Memory, Scope, content_hash
from lakehouse.opsdb.schema import memories, memory_events, memory_revisions


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def row_to_memory(row: Any) -> Memory:
    """A head row as a ``Memory`` (trusted: made without validation, as it was checked when written)."""
    return Memory.model_construct(
        id=row.id,
        scope=Scope.model_construct(tenant=row.tenant, user_id=row.user_id, agent_id=row.agent_id, run_id=row.run_id),
        kind=row.kind,
        content=row.content,
        data=None if row.data is None else json.loads(row.data),
        metadata=json.loads(row.meta),
        tags=json.loads(row.tags),
        status=row.status,
        version=row.version,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        recorded_at=row.recorded_at,
        updated_at=row.updated_at,
        retired_at=row.retired_at,
        retired_reason=row.retired_reason,
        superseded_by=row.superseded_by,
    )


def digest(memory_id: str, kind: str, content: str) -> str:
    """The deduplication key: the normalized content's hash; for a pathway (each run its own memory, whatever its
    summary says) also its id, so pathways never deduplicate."""
    return content_hash(content + "\x00" + memory_id) if kind == "pathway" else content_hash(content)


def snapshot(memory: Memory) -> dict[str, Any]:
    """What an event keeps of a head (before or after the operation)."""
    return {
        "content": memory.content,
        "data": memory.data,
        "metadata": memory.metadata,
        "tags": memory.tags,
        "status": memory.status,
        "version": memory.version,
        "valid_from": None if memory.valid_from is None else memory.valid_from.isoformat(),
        "valid_until": None if memory.valid_until is None else memory.valid_until.isoformat(),
        "superseded_by": memory.superseded_by,
    }


def must_be_active(head: Memory) -> None:
    if head.status == "superseded":
        raise MemorySuperseded(f"memory {head.id} is superseded by {head.superseded_by}", field="id")
    if head.status == "retired":
        raise MemoryRetired(f"memory {head.id} is retired", field="id")


def must_be_at(head: Memory, version: int) -> None:
    if head.version != version:
        raise VersionConflict(
            f"memory {head.id} is at version {head.version}, not {version}",
            errors=[
                ErrorItem(
                    kind="version_conflict",
                    field="expected_version",
                    reason=f"the memory is at version {head.version}",
                    extra={"current_version": head.version},
                )
            ],
        )


def head(conn: sa.Connection, memory_id: str, where: Scope, field: str = "id") -> Memory:
    if not isinstance(memory_id, str) or not memory_id:
        raise MemoryNotFound("no such memory in this scope", field=field)
    row = conn.execute(sa.select(memories).where(memories.c.id == memory_id, memories.c.scope_key == where.key)).first()
    if row is None:
        raise MemoryNotFound(f"no memory {memory_id} in this scope", field=field)
    return row_to_memory(row)


def active_with_hash(conn: sa.Connection, where: Scope, kind: str, digest: str) -> Memory | None:
    row = conn.execute(
        sa.select(memories).where(
            memories.c.scope_key == where.key,
            memories.c.kind == kind,
            memories.c.content_hash == digest,
            memories.c.status == "active",
        )
    ).first()
    return None if row is None else row_to_memory(row)


def superseded_by_it(conn: sa.Connection, ids: list[str], where: Scope) -> list[str]:
    rows = conn.execute(
        sa.select(memories.c.id)
        .where(memories.c.superseded_by.in_(ids), memories.c.scope_key == where.key)
        .order_by(memories.c.updated_at, memories.c.id)
    )
    return [row.id for row in rows]


def cycle(conn: sa.Connection, where: Scope, revised: str, successor: Memory) -> list[str]:
    """The cycle ``revised -> successor -> ... -> revised`` that superseding ``revised`` by ``successor`` would
    close, or [] when the successor's chain does not lead back to ``revised``."""
    chain = [revised, successor.id]
    current = successor.superseded_by
    while current is not None:
        chain.append(current)
        if current == revised:
            return chain
        if chain.count(current) > 1:  # a loop not through ``revised`` (never written, but never followed twice)
            return []
        row = conn.execute(
            sa.select(memories.c.superseded_by).where(memories.c.id == current, memories.c.scope_key == where.key)
        ).first()
        current = None if row is None else row.superseded_by
    return []


def head_values(memory: Memory) -> dict[str, Any]:
    return {
        "id": memory.id,
        "scope_key": memory.scope.key,
        "tenant": memory.scope.tenant,
        "user_id": memory.scope.user_id,
        "agent_id": memory.scope.agent_id,
        "run_id": memory.scope.run_id,
        "kind": memory.kind,
        "content": memory.content,
        "data": None if memory.data is None else dumps(memory.data),
        "meta": dumps(memory.metadata),
        "tags": dumps(memory.tags),
        "status": memory.status,
        "version": memory.version,
        "valid_from": memory.valid_from,
        "valid_until": memory.valid_until,
        "recorded_at": memory.recorded_at,
        "updated_at": memory.updated_at,
        "retired_at": memory.retired_at,
        "retired_reason": memory.retired_reason,
        "superseded_by": memory.superseded_by,
    }


def revision(conn: sa.Connection, memory: Memory, actor: str, reason: str | None) -> None:
    conn.execute(
        memory_revisions.insert().values(
            memory_id=memory.id,
            version=memory.version,
            content=memory.content,
            data=None if memory.data is None else dumps(memory.data),
            meta=dumps(memory.metadata),
            tags=dumps(memory.tags),
            status=memory.status,
            valid_from=memory.valid_from,
            valid_until=memory.valid_until,
            recorded_at=memory.updated_at,
            actor=actor,
            reason=reason,
        )
    )


def event(
    conn: sa.Connection,
    memory: Memory,
    op: str,
    actor: str,
    reason: str | None,
    before: dict[str, Any] | None,
    after: Memory | None,
    *,
    revises: str | None = None,
) -> None:
    payload = None if after is None else snapshot(after)
    if revises is not None:
        payload = {**(payload or {}), "revises": revises}
    conn.execute(
        memory_events.insert().values(
            memory_id=memory.id,
            scope_key=memory.scope.key,
            op=op,
            actor=actor,
            reason=reason,
            at=memory.updated_at,
            version=memory.version,
            before=None if before is None else dumps(before),
            after=None if payload is None else dumps(payload),
        )
    )


def row_to_event(row: Any) -> Event:
    return Event.model_construct(
        seq=int(row.id),
        op=row.op,
        actor=row.actor,
        reason=row.reason,
        at=row.at,
        version=row.version,
        before=None if row.before is None else json.loads(row.before),
        after=None if row.after is None else json.loads(row.after),
    )


def write_next_version(
    conn: sa.Connection, head: Memory, before: dict[str, Any], op: str, actor: str, reason: str | None
) -> None:
    """The changed ``head`` as its next version: the head row, a revision and the event ``op`` (with ``before``)."""
    head.version += 1
    head.updated_at = datetime.now(UTC)
    conn.execute(
        memories.update()
        .where(memories.c.id == head.id)
        .values(**head_values(head), content_hash=digest(head.id, head.kind, head.content))
    )
    revision(conn, head, actor, reason)
    event(conn, head, op, actor, reason, before, head)
