"""``MemoryStore``: ADD, UPDATE, REVISE, RETIRE, RESTORE, FORGET and HISTORY of agent memories, in the operational DB.

Each memory is a head row (``memories``), an immutable revision per version (``memory_revisions``) and an event per
operation (``memory_events``: op, actor, reason, time, version, the head before and after). Every write runs in one
transaction that holds the scope's writer turn (``opsdb.write_transaction``), so what it checks (the expected
version, the status, the supersession chain) is still true when it writes, on SQLite and on PostgreSQL alike, and a
failed operation changes nothing. Deduplication is also a database rule: a partial unique index admits one
*active* memory per scope, kind and normalized content.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lakehouse.errors import (
    ErrorItem,
    MemoryExists,
    MemoryNotFound,
    MemoryNotRetired,
    MemoryRetired,
    MemorySuperseded,
    RequestValidationFailed,
    RevisionCycle,
    VersionConflict,
)
from lakehouse.memory.model import (
    KINDS,
    Memory,
    Scope,
    aware,
    check_actor,
    check_content,
    check_metadata,
    check_reason,
    check_tags,
    check_time,
    content_hash,
    normalized,
)
from lakehouse.opsdb.engine import write_transaction
from lakehouse.opsdb.schema import memories, memory_events, memory_revisions

_UNSET: Any = object()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _row_to_memory(row: Any) -> Memory:
    return Memory(
        id=row.id,
        scope=Scope(row.tenant, row.user_id, row.agent_id, row.run_id),
        kind=row.kind,
        content=row.content,
        data=None if row.data is None else json.loads(row.data),
        metadata=json.loads(row.meta),
        tags=json.loads(row.tags),
        status=row.status,
        version=row.version,
        valid_from=aware(row.valid_from),
        valid_until=aware(row.valid_until),
        recorded_at=aware(row.recorded_at),  # type: ignore[arg-type]
        updated_at=aware(row.updated_at),  # type: ignore[arg-type]
        retired_at=aware(row.retired_at),
        retired_reason=row.retired_reason,
        superseded_by=row.superseded_by,
    )


def _snapshot(memory: Memory) -> dict[str, Any]:
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


class MemoryStore:
    """Thread-safe; every method is one transaction. ``actor`` defaults to ``anonymous`` (the server passes the
    API key's name)."""

    def __init__(self, opsdb: sa.Engine) -> None:
        self._db = opsdb

    # -- reads ----------------------------------------------------------------------------------------------------

    def get(self, memory_id: str, scope: Any) -> Memory:
        where = Scope.parse(scope)
        with self._db.connect() as conn:
            return self._head(conn, memory_id, where)

    def list_memories(
        self,
        scope: Any,
        *,
        kinds: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Memory]:
        """The scope's memories by id, ``limit`` at a time after the id ``after``."""
        where = Scope.parse(scope)
        query = sa.select(memories).where(memories.c.scope_key == where.key).order_by(memories.c.id).limit(limit)
        if kinds:
            query = query.where(memories.c.kind.in_(list(kinds)))
        if statuses:
            query = query.where(memories.c.status.in_(list(statuses)))
        if after is not None:
            query = query.where(memories.c.id > after)
        with self._db.connect() as conn:
            return [_row_to_memory(row) for row in conn.execute(query)]

    def history(self, memory_id: str, scope: Any) -> dict[str, Any]:
        """``{"memory", "events", "lineage"}``: the head, every event in order (op, actor, reason, time, version,
        before and after), and the lineage: what it superseded (directly, and all before), what superseded it and
        the chain to the memory that is current now."""
        where = Scope.parse(scope)
        with self._db.connect() as conn:
            head = self._head(conn, memory_id, where)
            events = [
                self._event_dict(row)
                for row in conn.execute(
                    sa.select(memory_events).where(memory_events.c.memory_id == memory_id).order_by(memory_events.c.id)
                )
            ]
            supersedes = self._superseded_by_it(conn, [memory_id], where)
            ancestors: list[str] = []
            frontier = supersedes
            while frontier:
                ancestors.extend(frontier)
                frontier = [m for m in self._superseded_by_it(conn, frontier, where) if m not in ancestors]
            successors: list[str] = []
            current = head.superseded_by
            while current is not None and current not in successors and current != memory_id:
                successors.append(current)
                row = conn.execute(
                    sa.select(memories.c.superseded_by).where(
                        memories.c.id == current, memories.c.scope_key == where.key
                    )
                ).first()
                current = None if row is None else row.superseded_by
        return {
            "memory": head.to_dict(),
            "events": events,
            "lineage": {
                "supersedes": supersedes,
                "ancestors": ancestors,
                "superseded_by": head.superseded_by,
                "successors": successors,
                "current": successors[-1] if successors else head.id,
            },
        }

    # -- writes ---------------------------------------------------------------------------------------------------

    def add(
        self,
        scope: Any,
        kind: str,
        content: Any,
        *,
        data: Any = None,
        metadata: Any = None,
        tags: Any = None,
        valid_from: Any = None,
        valid_until: Any = None,
        actor: Any = None,
    ) -> Memory:
        """A new active memory; or, when an active memory of the same kind with the same normalized content is in
        the scope, that one with ``extra["deduplicated"] = True`` (and nothing written)."""
        where = Scope.parse(scope)
        problems: list[ErrorItem] = []
        if kind not in KINDS:
            problems.append(ErrorItem(kind="validation_failed", field="kind", reason=f"one of {', '.join(KINDS)}"))
        text = check_content(content, "content", problems)
        meta = check_metadata(metadata, "metadata", problems)
        tag_list = check_tags(tags, "tags", problems)
        start = check_time(valid_from, "valid_from", problems)
        end = check_time(valid_until, "valid_until", problems)
        if start and end and end < start:
            problems.append(ErrorItem(kind="validation_failed", field="valid_until", reason="before valid_from"))
        if problems:
            raise RequestValidationFailed("the memory cannot be added as given", errors=problems)
        who = check_actor(actor)
        assert text is not None
        digest = content_hash(text)
        now = datetime.now(UTC)
        memory = Memory(
            id=uuid.uuid4().hex,
            scope=where,
            kind=kind,
            content=text,
            data=data,
            metadata=meta,
            tags=tag_list,
            status="active",
            version=1,
            valid_from=start,
            valid_until=end,
            recorded_at=now,
            updated_at=now,
        )
        try:
            with write_transaction(self._db, where.key) as conn:
                existing = self._active_with_hash(conn, where, kind, digest)
                if existing is not None:
                    existing.extra["deduplicated"] = True
                    return existing
                conn.execute(memories.insert().values(**self._head_values(memory), content_hash=digest))
                self._revision(conn, memory, who, None)
                self._event(conn, memory, "add", who, None, None, memory)
        except sa.exc.IntegrityError:  # another writer added it between our look and our insert
            with self._db.connect() as conn:
                existing = self._active_with_hash(conn, where, kind, digest)
            if existing is None:
                raise
            existing.extra["deduplicated"] = True
            return existing
        memory.extra["deduplicated"] = False
        return memory

    def update(
        self,
        memory_id: str,
        scope: Any,
        *,
        expected_version: Any,
        content: Any = _UNSET,
        data: Any = _UNSET,
        metadata: Any = _UNSET,
        tags: Any = _UNSET,
        valid_from: Any = _UNSET,
        valid_until: Any = _UNSET,
        actor: Any = None,
        reason: Any = None,
    ) -> Memory:
        """A new revision of an active memory's content, data, metadata, tags or validity; ``expected_version`` must
        be the head's version (else 409 ``version_conflict`` and nothing changes)."""
        where = Scope.parse(scope)
        version = self._check_version(expected_version, required=True)
        problems: list[ErrorItem] = []
        changes: dict[str, Any] = {}
        if content is not _UNSET:
            changes["content"] = check_content(content, "content", problems)
        if data is not _UNSET:
            changes["data"] = data
        if metadata is not _UNSET:
            changes["metadata"] = check_metadata(metadata, "metadata", problems)
        if tags is not _UNSET:
            changes["tags"] = check_tags(tags, "tags", problems)
        if valid_from is not _UNSET:
            changes["valid_from"] = check_time(valid_from, "valid_from", problems)
        if valid_until is not _UNSET:
            changes["valid_until"] = check_time(valid_until, "valid_until", problems)
        if not changes and not problems:
            problems.append(
                ErrorItem(
                    kind="validation_failed",
                    field="content",
                    reason="give at least one of content, data, metadata, tags, valid_from, valid_until",
                )
            )
        if problems:
            raise RequestValidationFailed("the memory cannot be updated as given", errors=problems)
        who, why = check_actor(actor), check_reason(reason, required=False)
        try:
            with write_transaction(self._db, where.key) as conn:
                head = self._head(conn, memory_id, where)
                self._must_be_active(head)
                self._must_be_at(head, version or 0)
                before = _snapshot(head)
                for name, value in changes.items():
                    setattr(head, name, value)
                if head.valid_from and head.valid_until and head.valid_until < head.valid_from:
                    raise RequestValidationFailed("valid_until is before valid_from", field="valid_until")
                head.version += 1
                head.updated_at = datetime.now(UTC)
                conn.execute(
                    memories.update()
                    .where(memories.c.id == head.id)
                    .values(**self._head_values(head), content_hash=content_hash(head.content))
                )
                self._revision(conn, head, who, why)
                self._event(conn, head, "update", who, why, before, head)
        except sa.exc.IntegrityError as exc:
            raise MemoryExists(
                "an active memory of this kind with this content is already in the scope", field="content"
            ) from exc
        return head

    def revise(
        self,
        memory_id: str,
        scope: Any,
        *,
        content: Any = None,
        successor_id: Any = None,
        data: Any = _UNSET,
        metadata: Any = _UNSET,
        tags: Any = _UNSET,
        expected_version: Any = None,
        actor: Any = None,
        reason: Any = None,
    ) -> Memory:
        """Supersede an active memory: by a new memory with ``content`` (same kind; data, metadata and tags carried
        over unless given), or by an existing memory of the scope, ``successor_id`` (a correction or a merge;
        several memories may be revised into one). Returns the successor. Refused with 409 ``revision_cycle``,
        listing the cycle, when the successor is already superseded, directly or through a chain, by this memory."""
        where = Scope.parse(scope)
        version = self._check_version(expected_version, required=False)
        if (content is None) == (successor_id is None):
            raise RequestValidationFailed("give content or successor_id (one of them)", field="content")
        problems: list[ErrorItem] = []
        text = check_content(content, "content", problems) if content is not None else None
        if successor_id is not None and (not isinstance(successor_id, str) or not successor_id):
            problems.append(ErrorItem(kind="validation_failed", field="successor_id", reason="a memory id"))
        new_meta = check_metadata(metadata, "metadata", problems) if metadata is not _UNSET else _UNSET
        new_tags = check_tags(tags, "tags", problems) if tags is not _UNSET else _UNSET
        if problems:
            raise RequestValidationFailed("the memory cannot be revised as given", errors=problems)
        who, why = check_actor(actor), check_reason(reason, required=False)
        try:
            with write_transaction(self._db, where.key) as conn:
                head = self._head(conn, memory_id, where)
                self._must_be_active(head)
                if version is not None:
                    self._must_be_at(head, version)
                now = datetime.now(UTC)
                if text is not None:
                    if normalized(text) == normalized(head.content):
                        raise RequestValidationFailed(
                            "the new content is the memory's own: use UPDATE to change other fields", field="content"
                        )
                    successor = self._active_with_hash(conn, where, head.kind, content_hash(text))
                    if successor is None:
                        successor = Memory(
                            id=uuid.uuid4().hex,
                            scope=where,
                            kind=head.kind,
                            content=text,
                            data=head.data if data is _UNSET else data,
                            metadata=head.metadata if new_meta is _UNSET else new_meta,
                            tags=head.tags if new_tags is _UNSET else new_tags,
                            status="active",
                            version=1,
                            valid_from=head.valid_from,
                            valid_until=head.valid_until,
                            recorded_at=now,
                            updated_at=now,
                        )
                        conn.execute(
                            memories.insert().values(**self._head_values(successor), content_hash=content_hash(text))
                        )
                        self._revision(conn, successor, who, why)
                        self._event(conn, successor, "add", who, why, None, successor, revises=head.id)
                else:
                    assert isinstance(successor_id, str)
                    if successor_id == head.id:
                        raise RequestValidationFailed("a memory cannot succeed itself", field="successor_id")
                    successor = self._head(conn, successor_id, where, field="successor_id")
                    if successor.status == "retired":
                        raise MemoryRetired(f"memory {successor.id} is retired", field="successor_id")
                    cycle = self._cycle(conn, where, head.id, successor)
                    if cycle:
                        raise RevisionCycle(
                            f"revising {head.id} into {successor.id} would close a cycle: {' -> '.join(cycle)}",
                            errors=[
                                ErrorItem(
                                    kind="revision_cycle",
                                    field="successor_id",
                                    reason=f"{successor.id} is already superseded, through a chain, by {head.id}",
                                    extra={"cycle": cycle},
                                )
                            ],
                        )
                before = _snapshot(head)
                head.status, head.superseded_by = "superseded", successor.id
                head.version += 1
                head.updated_at = now
                conn.execute(memories.update().where(memories.c.id == head.id).values(**self._head_values(head)))
                self._revision(conn, head, who, why)
                self._event(conn, head, "revise", who, why, before, head)
                self._event(conn, successor, "supersede", who, why, None, None, revises=head.id)
        except sa.exc.IntegrityError as exc:
            raise MemoryExists(
                "an active memory of this kind with this content is already in the scope", field="content"
            ) from exc
        return successor

    def retire(
        self, memory_id: str, scope: Any, *, reason: Any, expected_version: Any = None, actor: Any = None
    ) -> Memory:
        """Retire an active memory, with a reason: kept in history, left out of search and retrieval."""
        where = Scope.parse(scope)
        version = self._check_version(expected_version, required=False)
        who, why = check_actor(actor), check_reason(reason, required=True)
        with write_transaction(self._db, where.key) as conn:
            head = self._head(conn, memory_id, where)
            self._must_be_active(head)
            if version is not None:
                self._must_be_at(head, version)
            before = _snapshot(head)
            now = datetime.now(UTC)
            head.status, head.retired_at, head.retired_reason = "retired", now, why
            head.version += 1
            head.updated_at = now
            conn.execute(memories.update().where(memories.c.id == head.id).values(**self._head_values(head)))
            self._revision(conn, head, who, why)
            self._event(conn, head, "retire", who, why, before, head)
        return head

    def restore(self, memory_id: str, scope: Any, *, reason: Any = None, actor: Any = None) -> Memory:
        """Undo a retire: the memory is active again (409 ``memory_exists`` when an active memory with its content
        has been added since)."""
        where = Scope.parse(scope)
        who, why = check_actor(actor), check_reason(reason, required=False)
        try:
            with write_transaction(self._db, where.key) as conn:
                head = self._head(conn, memory_id, where)
                if head.status != "retired":
                    raise MemoryNotRetired(f"memory {head.id} is {head.status}", field="id")
                before = _snapshot(head)
                head.status, head.retired_at, head.retired_reason = "active", None, None
                head.version += 1
                head.updated_at = datetime.now(UTC)
                conn.execute(memories.update().where(memories.c.id == head.id).values(**self._head_values(head)))
                self._revision(conn, head, who, why)
                self._event(conn, head, "restore", who, why, before, head)
        except sa.exc.IntegrityError as exc:
            raise MemoryExists(
                "an active memory of this kind with this content was added since it was retired", field="id"
            ) from exc
        return head

    def forget(self, memory_id: str, scope: Any, *, reason: Any, actor: Any = None) -> dict[str, Any]:
        """A compliance purge: the head and every revision are deleted, every event of the memory loses its
        payloads and reason, and one ``forget`` event remains (id, time, actor, reason)."""
        where = Scope.parse(scope)
        who, why = check_actor(actor), check_reason(reason, required=True)
        with write_transaction(self._db, where.key) as conn:
            head = self._head(conn, memory_id, where)
            conn.execute(memory_revisions.delete().where(memory_revisions.c.memory_id == head.id))
            conn.execute(memories.delete().where(memories.c.id == head.id))
            conn.execute(
                memory_events.update()
                .where(memory_events.c.memory_id == head.id)
                .values(before=None, after=None, reason=None)
            )
            now = datetime.now(UTC)
            conn.execute(
                memory_events.insert().values(
                    memory_id=head.id, scope_key=where.key, op="forget", actor=who, reason=why, at=now, version=None
                )
            )
        return {"id": head.id, "forgotten": True, "at": now.isoformat(), "actor": who, "reason": why}

    # -- helpers --------------------------------------------------------------------------------------------------

    @staticmethod
    def _check_version(value: Any, *, required: bool) -> int | None:
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RequestValidationFailed(
                "expected_version is the version you read (a positive integer; or send If-Match)",
                field="expected_version",
            )
        return value

    @staticmethod
    def _must_be_active(head: Memory) -> None:
        if head.status == "superseded":
            raise MemorySuperseded(f"memory {head.id} is superseded by {head.superseded_by}", field="id")
        if head.status == "retired":
            raise MemoryRetired(f"memory {head.id} is retired", field="id")

    @staticmethod
    def _must_be_at(head: Memory, version: int) -> None:
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

    @staticmethod
    def _head(conn: sa.Connection, memory_id: str, where: Scope, field: str = "id") -> Memory:
        if not isinstance(memory_id, str) or not memory_id:
            raise MemoryNotFound("no such memory in this scope", field=field)
        row = conn.execute(
            sa.select(memories).where(memories.c.id == memory_id, memories.c.scope_key == where.key)
        ).first()
        if row is None:
            raise MemoryNotFound(f"no memory {memory_id} in this scope", field=field)
        return _row_to_memory(row)

    @staticmethod
    def _active_with_hash(conn: sa.Connection, where: Scope, kind: str, digest: str) -> Memory | None:
        row = conn.execute(
            sa.select(memories).where(
                memories.c.scope_key == where.key,
                memories.c.kind == kind,
                memories.c.content_hash == digest,
                memories.c.status == "active",
            )
        ).first()
        return None if row is None else _row_to_memory(row)

    @staticmethod
    def _superseded_by_it(conn: sa.Connection, ids: list[str], where: Scope) -> list[str]:
        rows = conn.execute(
            sa.select(memories.c.id)
            .where(memories.c.superseded_by.in_(ids), memories.c.scope_key == where.key)
            .order_by(memories.c.updated_at, memories.c.id)
        )
        return [row.id for row in rows]

    @staticmethod
    def _cycle(conn: sa.Connection, where: Scope, revised: str, successor: Memory) -> list[str]:
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

    @staticmethod
    def _head_values(memory: Memory) -> dict[str, Any]:
        return {
            "id": memory.id,
            "scope_key": memory.scope.key,
            "tenant": memory.scope.tenant,
            "user_id": memory.scope.user_id,
            "agent_id": memory.scope.agent_id,
            "run_id": memory.scope.run_id,
            "kind": memory.kind,
            "content": memory.content,
            "data": None if memory.data is None else _dumps(memory.data),
            "meta": _dumps(memory.metadata),
            "tags": _dumps(memory.tags),
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

    @staticmethod
    def _revision(conn: sa.Connection, memory: Memory, actor: str, reason: str | None) -> None:
        conn.execute(
            memory_revisions.insert().values(
                memory_id=memory.id,
                version=memory.version,
                content=memory.content,
                data=None if memory.data is None else _dumps(memory.data),
                meta=_dumps(memory.metadata),
                tags=_dumps(memory.tags),
                status=memory.status,
                valid_from=memory.valid_from,
                valid_until=memory.valid_until,
                recorded_at=memory.updated_at,
                actor=actor,
                reason=reason,
            )
        )

    @staticmethod
    def _event(
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
        payload = None if after is None else _snapshot(after)
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
                before=None if before is None else _dumps(before),
                after=None if payload is None else _dumps(payload),
            )
        )

    @staticmethod
    def _event_dict(row: Any) -> dict[str, Any]:
        return {
            "seq": int(row.id),
            "op": row.op,
            "actor": row.actor,
            "reason": row.reason,
            "at": aware(row.at).isoformat(),  # type: ignore[union-attr]
            "version": row.version,
            "before": None if row.before is None else json.loads(row.before),
            "after": None if row.after is None else json.loads(row.after),
        }
