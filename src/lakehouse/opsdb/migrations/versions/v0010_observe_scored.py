"""The traces that have scores (observation): a trace read skips the scores table for a trace not listed here.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observe_scored",
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("tenant_key", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("trace_id", "tenant_key", name="pk_observe_scored"),
    )


def downgrade() -> None:
    op.drop_table("observe_scored")
