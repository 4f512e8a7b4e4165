"""Agent memory: the events of a scope in order (what the in-process search index reads to catch up).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_memory_events_scope", "memory_events", ["scope_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_memory_events_scope", "memory_events")
