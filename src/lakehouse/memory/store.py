"""``MemoryStore``: ADD, UPDATE, REVISE, RETIRE, RESTORE, FORGET and HISTORY of agent memories, in the operational DB.

Each memory is a head row (``memories``), an immutable revision per version (``memory_revisions``) and an event per
operation (``memory_events``: op, actor, reason, time, version, the head before and after). Every write runs in one
transaction that holds the scope's writer turn (``opsdb.write_transaction``), so what it checks (the expected
version, the status, the supersession chain) is still true when it writes, on SQLite and on PostgreSQL alike, and a
failed operation changes nothing. Deduplication is also a database rule: a partial unique index admits one
*active* memory per scope, kind and normalized content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import sqlalchemy as sa
from pydantic import JsonValue

from lakehouse.config import MemorySettings
from lakehouse.embed import Embeddings
from lakehouse.errors import (
    EmbedderFailed,
    EmbedderUnavailable,
    ErrorItem,
    MemoryExists,
    MemoryNotFound,
    MemoryNotRetired,
    MemoryRetired,
    RequestValidationFailed,
    RevisionCycle,
)
from lakehouse.ids import new_id
from lakehouse.memory import rows
from lakehouse.memory.index import SearchIndex
from lakehouse.memory.model import (
    SYSTEM_ACTOR,
    AddedMemory,
    AddMemory,
    ChangeMemory,
    ForgetMemory,
    Forgotten,
    History,
    Kind,
    Lineage,
    Memory,
    MemorySearch,
    RestoreMemory,
    RetireMemory,
    ReviseMemory,
    Scope,
    SearchResults,
    content_hash,
    normalized,
)
from lakehouse.memory.search import search_memories
from lakehouse.memory.warmer import Warmer
from lakehouse.opsdb.engine import write_transaction
from lakehouse.opsdb.schema import embedding_cache, memories, memory_events, memory_revisions


class HasTagsAndMetadata(Protocol):
    """What ``add_made`` takes from a pathway's or playbook's request."""

    @property
    def metadata(self) -> dict[str, JsonValue] | None: ...
    @property
    def tags(self) -> list[str] | None: ...
    @property
    def actor(self) -> str | None: ...


class MemoryStore:
    """Thread-safe; every method is one transaction. ``actor`` defaults to ``anonymous`` (the server passes the
    API key's name)."""

    def __init__(
        self, opsdb: sa.Engine, embeddings: Embeddings | None = None, settings: MemorySettings | None = None
    ) -> None:
        self.db = opsdb
        self._embeddings = embeddings
        self.settings = settings or MemorySettings()
        # what search reads for the present (memory.index), and what embeds new content after a write returns
        self.index = SearchIndex(opsdb, self._embed_waiting, capacity=self.settings.index_scopes)
        self._warmer = Warmer(self._embed_background)
        # called after each FORGET commits, to purge copies held elsewhere in the process (the SQL engines' tables)
        self.forgotten_listeners: list[Callable[[], None]] = []

    # -- embeddings (derived: kept in the embedding cache, keyed by the text) -------------------------------------

    def embed(self, texts: list[str], *, wait: bool = False, background: bool = False) -> np.ndarray[Any, Any] | None:
        """The embeddings of ``texts`` by the default model (from its cache when there), or None when no embedder
        can be had (keyword search still answers). ``wait``: queue for the model however long (a search's missing
        vectors); ``background``: wait, and after every interactive text (the warmer); otherwise a full queue is
        503 ``overloaded``."""
        if self._embeddings is None or not texts:
            return None
        limits = self._embeddings.settings.embed
        clipped = [t[: limits.max_text_chars] for t in texts]
        try:
            parts = [
                self._embeddings.embed(clipped[i : i + limits.max_texts], wait=wait, background=background).vectors
                for i in range(0, len(clipped), limits.max_texts)
            ]
        except (EmbedderUnavailable, EmbedderFailed):
            return None
        return np.concatenate(parts)

    def _embed_waiting(self, texts: list[str]) -> np.ndarray[Any, Any] | None:
        return self.embed(texts, wait=True)

    def _embed_background(self, texts: list[str]) -> np.ndarray[Any, Any] | None:
        return self.embed(texts, background=True)

    def _warm(self, text: str) -> None:
        """Have a new content embedded into the cache (``memory.embed_on_write``: after the write returns, before it,
        or not at all), so that searches find it there. Called outside any transaction."""
        if self._embeddings is None or self.settings.embed_on_write == "off":
            return
        if self.settings.embed_on_write == "inline":
            self.embed([text])
            self._embeddings.flush()  # in the cache, for every process, before the write returns
        else:
            self._warmer.submit(text)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the contents written so far are embedded into the cache (False when ``timeout`` ran out)."""
        if not self._warmer.flush(timeout):
            return False
        return self._embeddings is None or self._embeddings.flush(timeout)

    def close(self) -> None:
        self._warmer.close()

    # -- search ---------------------------------------------------------------------------------------------------

    def search(self, request: MemorySearch) -> SearchResults:
        """Semantic (embeddings) and keyword (BM25) rankings of the scope's memories for the query, fused: see
        ``memory.search.search_memories``."""
        return search_memories(self.db, self.index, self.embed, request)

    # -- reads ----------------------------------------------------------------------------------------------------

    def get(self, memory_id: str, scope: Scope) -> Memory:
        where = scope
        with self.db.connect() as conn:
            return rows.head(conn, memory_id, where)

    def list_memories(
        self,
        scope: Scope,
        *,
        kinds: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Memory]:
        """The scope's memories by id, ``limit`` at a time after the id ``after``."""
        where = scope
        query = sa.select(memories).where(memories.c.scope_key == where.key).order_by(memories.c.id).limit(limit)
        if kinds:
            query = query.where(memories.c.kind.in_(list(kinds)))
        if statuses:
            query = query.where(memories.c.status.in_(list(statuses)))
        if after is not None:
            query = query.where(memories.c.id > after)
        with self.db.connect() as conn:
            return [rows.row_to_memory(row) for row in conn.execute(query)]

    def history(self, memory_id: str, scope: Scope) -> History:
        """``{"memory", "events", "lineage"}``: the head, every event in order (op, actor, reason, time, version,
        before and after), and the lineage: what it superseded (directly, and all before), what superseded it and
        the chain to the memory that is current now."""
        where = scope
        with self.db.connect() as conn:
            head = rows.head(conn, memory_id, where)
            events = [
                rows.row_to_event(row)
                for row in conn.execute(
                    sa.select(memory_events).where(memory_events.c.memory_id == memory_id).order_by(memory_events.c.id)
                )
            ]
            supersedes = rows.superseded_by_it(conn, [memory_id], where)
            ancestors: list[str] = []
            frontier = supersedes
            while frontier:
                ancestors.extend(frontier)
                frontier = [m for m in rows.superseded_by_it(conn, frontier, where) if m not in ancestors]
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
        return History(
            memory=head,
            events=events,
            lineage=Lineage(
                supersedes=supersedes,
                ancestors=ancestors,
                superseded_by=head.superseded_by,
                successors=successors,
                current=successors[-1] if successors else head.id,
            ),
        )

    # -- writes ---------------------------------------------------------------------------------------------------

    def add(self, request: AddMemory) -> AddedMemory:
        """A new active memory; or, when an active memory of the same kind with the same normalized content is in
        the scope, that one, ``deduplicated`` (and nothing written)."""
        where, kind, text = request.scope, request.kind, request.content
        who = request.actor or SYSTEM_ACTOR
        self._warm(text)
        memory_id = new_id()
        digest = rows.digest(memory_id, kind, text)
        now = datetime.now(UTC)
        memory = Memory(
            id=memory_id,
            scope=where,
            kind=kind,
            content=text,
            data=request.data,
            metadata=request.metadata or {},
            tags=request.tags or [],
            status="active",
            version=1,
            valid_from=request.valid_from,
            valid_until=request.valid_until,
            recorded_at=now,
            updated_at=now,
        )
        try:
            with write_transaction(self.db, where.key) as conn:
                existing = rows.active_with_hash(conn, where, kind, digest)
                if existing is not None:
                    return _added(existing, deduplicated=True)
                conn.execute(memories.insert().values(**rows.head_values(memory), content_hash=digest))
                rows.revision(conn, memory, who, None)
                rows.event(conn, memory, "add", who, None, None, memory)
        except sa.exc.IntegrityError:  # another writer added it between our look and our insert
            with self.db.connect() as conn:
                existing = rows.active_with_hash(conn, where, kind, digest)
            if existing is None:
                raise
            return _added(existing, deduplicated=True)
        return _added(memory, deduplicated=False)

    def add_made(
        self,
        scope: Scope,
        kind: Kind,
        content: str,
        data: dict[str, Any],
        request: HasTagsAndMetadata,
    ) -> AddedMemory:
        """ADD a memory whose data the library made (a pathway's run, a playbook): the rest (tags, metadata,
        actor) from ``request``, already checked."""
        return self.add(
            AddMemory.model_construct(
                scope=scope,
                kind=kind,
                content=content,
                data=data,  # JSON the library built
                metadata=request.metadata,
                tags=request.tags,
                valid_from=None,
                valid_until=None,
                actor=request.actor,
            )
        )

    def update(self, memory_id: str, request: ChangeMemory) -> Memory:
        """A new revision of an active memory's content, data, metadata, tags or validity; ``expected_version`` must
        be the head's version (else 409 ``version_conflict`` and nothing changes)."""
        where = request.scope
        version = request.expected_version
        if version is None:
            raise RequestValidationFailed(
                "expected_version is the version you read (or send If-Match)",
                errors=[
                    ErrorItem(
                        kind="required",
                        field="expected_version",
                        reason="expected_version is the version you read (or send If-Match)",
                    )
                ],
            )
        changes = request.changes()
        who, why = request.actor or SYSTEM_ACTOR, request.reason
        if isinstance(changes.get("content"), str):
            self._warm(str(changes["content"]))
        try:
            with write_transaction(self.db, where.key) as conn:
                head = rows.head(conn, memory_id, where)
                rows.must_be_active(head)
                rows.must_be_at(head, version)
                before = rows.snapshot(head)
                for name, value in changes.items():
                    setattr(head, name, value)
                if head.valid_from and head.valid_until and head.valid_until < head.valid_from:
                    raise RequestValidationFailed("valid_until is before valid_from", field="valid_until")
                rows.write_next_version(conn, head, before, "update", who, why)
        except sa.exc.IntegrityError as exc:
            raise MemoryExists(
                "an active memory of this kind with this content is already in the scope", field="content"
            ) from exc
        return head

    def revise(self, memory_id: str, request: ReviseMemory) -> Memory:
        """Supersede an active memory: by a new memory with ``content`` (same kind; data, metadata and tags carried
        over unless given), or by an existing memory of the scope, ``successor_id`` (a correction or a merge;
        several memories may be revised into one). Returns the successor. Refused with 409 ``revision_cycle``,
        listing the cycle, when the successor is already superseded, directly or through a chain, by this memory."""
        where, version, text, successor_id = (
            request.scope,
            request.expected_version,
            request.content,
            request.successor_id,
        )
        carried = request.carried()
        who, why = request.actor or SYSTEM_ACTOR, request.reason
        if text is not None:
            self._warm(text)
        try:
            with write_transaction(self.db, where.key) as conn:
                head = rows.head(conn, memory_id, where)
                rows.must_be_active(head)
                if version is not None:
                    rows.must_be_at(head, version)
                now = datetime.now(UTC)
                if text is not None:
                    if normalized(text) == normalized(head.content):
                        raise RequestValidationFailed(
                            "the new content is the memory's own: use UPDATE to change other fields", field="content"
                        )
                    successor = (
                        None
                        if head.kind == "pathway"
                        else rows.active_with_hash(conn, where, head.kind, content_hash(text))
                    )
                    if successor is None:
                        successor = Memory(
                            id=new_id(),
                            scope=where,
                            kind=head.kind,
                            content=text,
                            data=carried.get("data", head.data),
                            metadata=carried.get("metadata", head.metadata),
                            tags=carried.get("tags", head.tags),
                            status="active",
                            version=1,
                            valid_from=head.valid_from,
                            valid_until=head.valid_until,
                            recorded_at=now,
                            updated_at=now,
                        )
                        conn.execute(
                            memories.insert().values(
                                **rows.head_values(successor), content_hash=rows.digest(successor.id, head.kind, text)
                            )
                        )
                        rows.revision(conn, successor, who, why)
                        rows.event(conn, successor, "add", who, why, None, successor, revises=head.id)
                else:
                    assert isinstance(successor_id, str)
                    if successor_id == head.id:
                        raise RequestValidationFailed("a memory cannot succeed itself", field="successor_id")
                    successor = rows.head(conn, successor_id, where, field="successor_id")
                    if successor.status == "retired":
                        raise MemoryRetired(f"memory {successor.id} is retired", field="successor_id")
                    cycle = rows.cycle(conn, where, head.id, successor)
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
                before = rows.snapshot(head)
                head.status, head.superseded_by = "superseded", successor.id
                rows.write_next_version(conn, head, before, "revise", who, why)
                rows.event(conn, successor, "supersede", who, why, None, None, revises=head.id)
        except sa.exc.IntegrityError as exc:
            raise MemoryExists(
                "an active memory of this kind with this content is already in the scope", field="content"
            ) from exc
        return successor

    def retire(self, memory_id: str, request: RetireMemory) -> Memory:
        """Retire an active memory, with a reason: kept in history, left out of search and retrieval."""
        where, version = request.scope, request.expected_version
        who, why = request.actor or SYSTEM_ACTOR, request.reason
        with write_transaction(self.db, where.key) as conn:
            head = rows.head(conn, memory_id, where)
            rows.must_be_active(head)
            if version is not None:
                rows.must_be_at(head, version)
            before = rows.snapshot(head)
            now = datetime.now(UTC)
            head.status, head.retired_at, head.retired_reason = "retired", now, why
            rows.write_next_version(conn, head, before, "retire", who, why)
        return head

    def change_data(
        self,
        memory_id: str,
        scope: Scope,
        *,
        kind: str,
        change: Callable[[Memory], Any],
        op: str,
        actor: str | None = None,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> Memory:
        """A new revision of an active memory of ``kind`` whose data is ``change(head)`` (which may refuse by
        raising), recorded as an event ``op``. What pathways and playbooks are built on."""
        where, version = scope, expected_version
        who, why = actor or SYSTEM_ACTOR, reason
        with write_transaction(self.db, where.key) as conn:
            head = rows.head(conn, memory_id, where)
            if head.kind != kind:
                raise MemoryNotFound(f"no {kind} {memory_id} in this scope", field="id")
            rows.must_be_active(head)
            if version is not None:
                rows.must_be_at(head, version)
            before = rows.snapshot(head)
            head.data = change(head)
            rows.write_next_version(conn, head, before, op, who, why)
        return head

    def restore(self, memory_id: str, request: RestoreMemory) -> Memory:
        """Undo a retire: the memory is active again (409 ``memory_exists`` when an active memory with its content
        has been added since)."""
        where = request.scope
        who, why = request.actor or SYSTEM_ACTOR, request.reason
        try:
            with write_transaction(self.db, where.key) as conn:
                head = rows.head(conn, memory_id, where)
                if head.status != "retired":
                    raise MemoryNotRetired(f"memory {head.id} is {head.status}", field="id")
                before = rows.snapshot(head)
                head.status, head.retired_at, head.retired_reason = "active", None, None
                rows.write_next_version(conn, head, before, "restore", who, why)
        except sa.exc.IntegrityError as exc:
            raise MemoryExists(
                "an active memory of this kind with this content was added since it was retired", field="id"
            ) from exc
        return head

    def forget(self, memory_id: str, request: ForgetMemory) -> Forgotten:
        """A compliance purge: the head and every revision are deleted, every event of the memory loses its
        payloads and reason, the embeddings of every content it had leave the embedding cache, and one ``forget``
        event remains (id, time, actor, reason)."""
        where = request.scope
        who, why = request.actor or SYSTEM_ACTOR, request.reason
        self.flush()  # no embedding of what is purged may be written back after the purge
        with write_transaction(self.db, where.key) as conn:
            head = rows.head(conn, memory_id, where)
            contents = {head.content} | {
                row.content
                for row in conn.execute(
                    sa.select(memory_revisions.c.content).where(memory_revisions.c.memory_id == head.id)
                )
            }
            digests = [hashlib.sha256(text.encode()).hexdigest() for text in contents]
            if self._embeddings is not None:
                limit = self._embeddings.settings.embed.max_text_chars
                digests += [hashlib.sha256(text[:limit].encode()).hexdigest() for text in contents]
            conn.execute(embedding_cache.delete().where(embedding_cache.c.text_sha256.in_(digests)))
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
        self.index.discard(where)
        for listener in self.forgotten_listeners:
            listener()
        return Forgotten(id=head.id, forgotten=True, at=now, actor=who, reason=why)


def _added(memory: Memory, *, deduplicated: bool) -> AddedMemory:
    return AddedMemory.model_construct(**dict(memory), deduplicated=deduplicated)
