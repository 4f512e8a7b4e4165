"""The operational DB's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from lakehouse.times import as_utc


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A time column that reads back aware, in UTC, on every database (SQLite gives times back without a zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        return as_utc(value) if isinstance(value, datetime) else None


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.String(200), nullable=False),
    sa.Column("tenant", sa.String(200), nullable=True),  # bound to this memory tenant (None: any)
    sa.Column("namespaces", sa.String(2000), nullable=True),  # comma-separated lake namespaces (None: any)
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_used_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.Index(
        "uq_api_keys_active_name",
        "name",
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    ),
    sa.Index("ix_api_keys_prefix", "prefix"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("response", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("completed_at", UtcDateTime(), nullable=True),
)

embedding_cache = sa.Table(
    "embedding_cache",
    metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("text_sha256", sa.String(64), primary_key=True),
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, little-endian
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

collections = sa.Table(
    "collections",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("uid", sa.String(32), nullable=False, unique=True),  # tells a re-created collection from the old one
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("metric", sa.String(16), nullable=False),
    sa.Column("embedder", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

# -- agent memory (lakehouse.memory): heads, immutable revisions, and the event log ---------------------------------

memories = sa.Table(
    "memories",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("scope_key", sa.String(1000), nullable=False),  # the scope as one canonical JSON string
    sa.Column("tenant", sa.String(200), nullable=False),
    sa.Column("user_id", sa.String(200), nullable=True),
    sa.Column("agent_id", sa.String(200), nullable=True),
    sa.Column("run_id", sa.String(200), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),  # sha256 of the normalized content
    sa.Column("data", sa.Text, nullable=True),  # JSON
    sa.Column("meta", sa.Text, nullable=False),  # JSON object
    sa.Column("tags", sa.Text, nullable=False),  # JSON list of strings
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("valid_from", UtcDateTime(), nullable=True),
    sa.Column("valid_until", UtcDateTime(), nullable=True),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("retired_at", UtcDateTime(), nullable=True),
    sa.Column("retired_reason", sa.Text, nullable=True),
    sa.Column("superseded_by", sa.String(32), nullable=True),
    # one active memory per scope, kind and normalized content: concurrent identical ADDs make one memory
    sa.Index(
        "uq_memories_active_content",
        "scope_key",
        "kind",
        "content_hash",
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    ),
    sa.Index("ix_memories_scope_status", "scope_key", "status"),
    sa.Index("ix_memories_superseded_by", "superseded_by"),
)

memory_revisions = sa.Table(
    "memory_revisions",
    metadata,
    sa.Column("memory_id", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=True),
    sa.Column("meta", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("valid_from", UtcDateTime(), nullable=True),
    sa.Column("valid_until", UtcDateTime(), nullable=True),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
)

memory_events = sa.Table(
    "memory_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("memory_id", sa.String(32), nullable=False),
    sa.Column("scope_key", sa.String(1000), nullable=False),
    sa.Column("op", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("before", sa.Text, nullable=True),  # JSON: the head before (content and what changed)
    sa.Column("after", sa.Text, nullable=True),  # JSON: the head after
    sa.Index("ix_memory_events_memory", "memory_id", "id"),
    sa.Index("ix_memory_events_scope", "scope_key", "id"),
)

# -- validation (lakehouse.validation): the schema registry; a version is immutable, retiring it stamps retired_at --

schema_versions = sa.Table(
    "schema_versions",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),  # canonical JSON
    sa.Column("fingerprint", sa.String(64), nullable=False),  # sha256 of the canonical JSON
    sa.Column("draft", sa.String(16), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("retired_at", UtcDateTime(), nullable=True),
    sa.Column("breaking_changes", sa.Text, nullable=True),  # JSON: the changes a forced registration accepted
)

# -- observation (lakehouse.observe): the trace index, derived from observe.spans in the lake ------------------------

observe_traces = sa.Table(
    "observe_traces",
    metadata,
    sa.Column("trace_id", sa.String(32), primary_key=True),
    sa.Column("tenant_key", sa.String(200), primary_key=True),  # the tenant, or "" for spans of unbound keys
    sa.Column("start_time", UtcDateTime(), nullable=False),
    sa.Column("end_time", UtcDateTime(), nullable=False),
    sa.Column("spans", sa.Integer, nullable=False),
    sa.Column("input_tokens", sa.BigInteger, nullable=False),
    sa.Column("output_tokens", sa.BigInteger, nullable=False),
    sa.Column("cost", sa.Float, nullable=False),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("oks", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=True),  # the earliest root span's (else the earliest span's)
    sa.Column("name_rank", sa.String(40), nullable=True),  # how that name was chosen: root flag and start, sortable
    sa.Column("session_id", sa.String(1000), nullable=True),
    sa.Column("user_id", sa.String(1000), nullable=True),
    sa.Column("agent_name", sa.String(1000), nullable=True),
    sa.Column("models", sa.Text, nullable=False),  # JSON: the sorted model names
    sa.Index("ix_observe_traces_start", "tenant_key", "start_time"),
    sa.Index("ix_observe_traces_session", "session_id"),
    sa.Index("ix_observe_traces_user", "user_id"),
    sa.Index("ix_observe_traces_agent", "agent_name"),
)
observe_scored = sa.Table(
    "observe_scored",
    metadata,
    sa.Column("trace_id", sa.String(32), primary_key=True),  # a trace with at least one score (of this tenant)
    sa.Column("tenant_key", sa.String(200), primary_key=True),
)
