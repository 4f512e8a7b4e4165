"""What a memory is, and what callers send and get back: the wire models of the memory API.

A memory lives in exactly one ``Scope`` (a tenant, and any of user, agent and run); every read and write names the
scope and sees nothing outside it. Its content is compared for deduplication after normalization (Unicode NFKC,
case folded, runs of whitespace made one space, trimmed).

Requests (``AddMemory``, ``ChangeMemory``, ``ReviseMemory``, ``RetireMemory``, ``RestoreMemory``, ``ForgetMemory``,
``MemorySearch``) are the one definition each route, the store, the HTTP client and the CLI use; what a type can say
is said by the type, what is left is a validator here. Answers: ``Memory``, ``AddedMemory``, ``SearchResults``,
``History``, ``Forgotten``.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, ConfigDict, Field, JsonValue, model_validator

from lakehouse.paging import Page
from lakehouse.wire import Answer, NotBlank, Time, WireModel, omitted, refuse

KINDS = ("fact", "pathway", "playbook")
STATUSES = ("active", "superseded", "retired")
SCOPE_FIELDS = ("tenant", "user_id", "agent_id", "run_id")
MAX_SCOPE_PART = 200
MAX_CONTENT = 100_000
MAX_TAGS = 64
SYSTEM_ACTOR = "anonymous"

Kind = Literal["fact", "pathway", "playbook"]
Status = Literal["active", "superseded", "retired"]
Fusion = Literal["relative", "rrf"]
ScopePart = Annotated[NotBlank, Field(max_length=MAX_SCOPE_PART)]
Content = Annotated[NotBlank, Field(max_length=MAX_CONTENT)]
Actor = Annotated[NotBlank, Field(max_length=200, description="Who makes the change (recorded in its history).")]
Reason = Annotated[NotBlank, Field(max_length=2000)]
Version = Annotated[int, Field(ge=1, description="The version you read (or send If-Match).")]
Tag = Annotated[NotBlank, Field(max_length=200)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(lambda tags: sorted(set(tags)))]
Metadata = dict[str, JsonValue]


class Scope(WireModel):
    """Where a memory lives: a tenant, and any of user, agent and run."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [{"tenant": "acme", "user_id": "u1"}]})

    tenant: ScopePart
    user_id: ScopePart | None = omitted()
    agent_id: ScopePart | None = omitted()
    run_id: ScopePart | None = omitted()

    @property
    def key(self) -> str:
        """One canonical string for the whole scope (what the database matches on)."""
        return json.dumps([self.tenant, self.user_id, self.agent_id, self.run_id], separators=(",", ":"))

    def to_dict(self) -> dict[str, str]:
        return {name: value for name in SCOPE_FIELDS if (value := getattr(self, name)) is not None}


def normalized(content: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", content).casefold().split())


def content_hash(content: str) -> str:
    return hashlib.sha256(normalized(content).encode()).hexdigest()


def _world_order(valid_from: datetime | None, valid_until: datetime | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise refuse("valid_until is before valid_from", "valid_until")


# -- requests ---------------------------------------------------------------------------------------------------------


class AddMemory(WireModel):
    """ADD: a new memory, or the active one of its scope and kind with the same normalized content."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"scope": {"tenant": "acme", "user_id": "u1"}, "content": "Prefers email", "tags": ["pref"]}]
        }
    )

    scope: Scope
    kind: Kind = "fact"
    content: Content = Field(description="The memory's text.")
    data: JsonValue = Field(None, description="Any JSON (a pathway's steps).")
    metadata: Metadata | None = None
    tags: Tags | None = None
    valid_from: Time | None = Field(None, description="When it became true in the world, if known.")
    valid_until: Time | None = Field(None, description="When it stopped being true in the world, if known.")
    actor: Actor | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AddMemory:
        _world_order(self.valid_from, self.valid_until)
        return self


class ChangeMemory(WireModel):
    """UPDATE: a new revision of an active memory at the expected version; only the fields given change (``null``
    clears data, metadata, tags and the validity bounds)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"scope": {"tenant": "acme"}, "expected_version": 1, "content": "New text"}],
            "anyOf": [
                {"required": [name]} for name in ("content", "data", "metadata", "tags", "valid_from", "valid_until")
            ],
        }
    )

    scope: Scope
    expected_version: Version | None = None
    content: Content | None = None
    data: JsonValue = None
    metadata: Metadata | None = None
    tags: Tags | None = None
    valid_from: Time | None = None
    valid_until: Time | None = None
    actor: Actor | None = None
    reason: Reason | None = None

    CHANGES: ClassVar[tuple[str, ...]] = ("content", "data", "metadata", "tags", "valid_from", "valid_until")

    @model_validator(mode="after")
    def _something(self) -> ChangeMemory:
        given = self.changes()
        if not given:
            raise refuse(f"give at least one of {', '.join(self.CHANGES)}", "content")
        if "content" in given and self.content is None:
            raise refuse("content cannot be cleared", "content")
        return self

    def changes(self) -> dict[str, object]:
        """The fields this UPDATE sets (``None`` metadata and tags are empty ones)."""
        out: dict[str, object] = {}
        for name in self.CHANGES:
            if name in self.model_fields_set:
                value = getattr(self, name)
                out[name] = {} if name == "metadata" and value is None else value
                if name == "tags" and value is None:
                    out[name] = []
        return out


class ReviseMemory(WireModel):
    """REVISE: supersede an active memory by new content (a new memory) or by an existing one (``successor_id``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"scope": {"tenant": "acme"}, "content": "Prefers phone", "reason": "moved"}],
            "anyOf": [{"required": ["content"]}, {"required": ["successor_id"]}],
        }
    )

    scope: Scope
    content: Content | None = Field(None, description="New content: a new memory becomes the successor.")
    successor_id: NotBlank | None = Field(None, description="Or: an existing memory of the scope succeeds it.")
    data: JsonValue = None
    metadata: Metadata | None = None
    tags: Tags | None = None
    expected_version: Version | None = None
    actor: Actor | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _one_successor(self) -> ReviseMemory:
        if (self.content is None) == (self.successor_id is None):
            raise refuse("give content or successor_id (one of them)", "content")
        return self

    def carried(self) -> dict[str, object]:
        """What the new successor takes from this request rather than from the revised memory."""
        out: dict[str, object] = {name: getattr(self, name) for name in ("data",) if name in self.model_fields_set}
        if "metadata" in self.model_fields_set:
            out["metadata"] = self.metadata or {}
        if "tags" in self.model_fields_set:
            out["tags"] = self.tags or []
        return out


class RetireMemory(WireModel):
    """RETIRE, with a reason: kept in history, left out of search."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"scope": {"tenant": "acme"}, "reason": "outdated"}]})

    scope: Scope
    reason: Reason = Field(description="Why it is retired.")
    expected_version: Version | None = None
    actor: Actor | None = None


class RestoreMemory(WireModel):
    """RESTORE a retired memory."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"scope": {"tenant": "acme"}}]})

    scope: Scope
    reason: Reason | None = None
    actor: Actor | None = None


class ForgetMemory(WireModel):
    """FORGET: purge the content and every revision, keep a tombstone."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"scope": {"tenant": "acme"}, "reason": "GDPR request"}]})

    scope: Scope
    reason: Reason = Field(description="Why it is purged (kept in the tombstone).")
    actor: Actor | None = None


class MemorySearch(WireModel):
    """A search of one scope's memories: by meaning (embeddings) and by words (BM25), fused."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"scope": {"tenant": "acme", "user_id": "u1"}, "query": "contact", "k": 5}]}
    )

    scope: Scope
    query: Content = Field(description="What to look for.")
    k: int = Field(10, ge=1, le=1000, description="How many results.")
    kinds: list[Kind] | None = Field(None, description="Only these kinds.")
    tags: Tags | None = Field(None, description="Only memories with all these tags.")
    filter: Metadata | None = Field(None, description="Only memories whose metadata matches (the filter language).")
    as_of: Time | None = Field(None, description="The memories as the system knew them at this time.")
    valid_at: Time | None = Field(None, description="Only memories true in the world at this time.")
    include_retired: bool = Field(False, description="Also retired memories.")
    include_superseded: bool = Field(False, description="Also superseded memories.")
    fusion: Fusion = Field(
        "relative", description="`relative` (scores scaled and weighted by `alpha`) or `rrf` (reciprocal rank)."
    )
    alpha: float = Field(0.75, ge=0, le=1, description="The weight of meaning in relative fusion (words get the rest).")


# -- answers ----------------------------------------------------------------------------------------------------------


class Memory(Answer):
    """A memory's head: its current version."""

    id: str
    scope: Scope
    kind: Kind
    content: str
    data: JsonValue = None
    metadata: Metadata
    tags: list[str]
    status: Status
    version: int
    valid_from: datetime | None
    valid_until: datetime | None
    recorded_at: datetime
    updated_at: datetime
    retired_at: datetime | None = None
    retired_reason: str | None = None
    superseded_by: str | None = None


class AddedMemory(Memory):
    """ADD's answer: the memory, and whether it was already there (then nothing was written; 200, not 201)."""

    deduplicated: bool


class KeywordMatch(Answer):
    rank: int
    score: float
    terms: list[str]


class SemanticMatch(Answer):
    rank: int
    similarity: float


class Matched(Answer):
    """How a hit was found: by words, by meaning, or both (a way that did not find it is left out)."""

    keyword: KeywordMatch | None = omitted()
    semantic: SemanticMatch | None = omitted()


class SearchHit(Memory):
    score: float = Field(description="The fused score.")
    matched: Matched


class SearchResults(Answer):
    results: list[SearchHit]
    suppressed: int = Field(description="Retired or superseded memories that would have been among the k.")
    semantic: bool = Field(description="Whether meaning was used (an embedder answered).")


class Event(Answer):
    seq: int
    op: str
    actor: str
    reason: str | None
    at: datetime
    version: int | None
    before: dict[str, JsonValue] | None
    after: dict[str, JsonValue] | None


class Lineage(Answer):
    supersedes: list[str] = Field(description="What this memory superseded directly.")
    ancestors: list[str] = Field(description="Everything it superseded, directly or through a chain.")
    superseded_by: str | None
    successors: list[str] = Field(description="The chain from what superseded it to the current memory.")
    current: str = Field(description="The memory that is current now.")


class History(Answer):
    memory: Memory
    events: list[Event]
    lineage: Lineage


class Forgotten(Answer):
    id: str
    forgotten: bool
    at: datetime
    actor: str
    reason: str


MemoryPage = Page[Memory]
