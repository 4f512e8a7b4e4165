"""Agent memory: heads, immutable revisions and the event log.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("scope_key", sa.String(1000), nullable=False),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("agent_id", sa.String(200), nullable=True),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=True),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_reason", sa.Text, nullable=True),
        sa.Column("superseded_by", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_memories"),
    )
    op.create_index(
        "uq_memories_active_content",
        "memories",
        ["scope_key", "kind", "content_hash"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index("ix_memories_scope_status", "memories", ["scope_key", "status"])
    op.create_index("ix_memories_superseded_by", "memories", ["superseded_by"])
    op.create_table(
        "memory_revisions",
        sa.Column("memory_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=True),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("memory_id", "version", name="pk_memory_revisions"),
    )
    op.create_table(
        "memory_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False),
        sa.Column("memory_id", sa.String(32), nullable=False),
        sa.Column("scope_key", sa.String(1000), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_memory_events"),
    )
    op.create_index("ix_memory_events_memory", "memory_events", ["memory_id", "id"])


def downgrade() -> None:
    op.drop_table("memory_events")
    op.drop_table("memory_revisions")
    op.drop_index("ix_memories_superseded_by", "memories")
    op.drop_index("ix_memories_scope_status", "memories")
    op.drop_index("uq_memories_active_content", "memories")
    op.drop_table("memories")
