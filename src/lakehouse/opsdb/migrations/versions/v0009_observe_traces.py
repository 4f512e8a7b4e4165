"""The trace index of observation: one row per (trace, tenant) with its time range and totals, derived from the
lake's observe.spans.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observe_traces",
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("tenant_key", sa.String(200), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spans", sa.Integer, nullable=False),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("oks", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("name_rank", sa.String(40), nullable=True),
        sa.Column("session_id", sa.String(1000), nullable=True),
        sa.Column("user_id", sa.String(1000), nullable=True),
        sa.Column("agent_name", sa.String(1000), nullable=True),
        sa.Column("models", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("trace_id", "tenant_key", name="pk_observe_traces"),
    )
    op.create_index("ix_observe_traces_start", "observe_traces", ["tenant_key", "start_time"])
    op.create_index("ix_observe_traces_session", "observe_traces", ["session_id"])
    op.create_index("ix_observe_traces_user", "observe_traces", ["user_id"])
    op.create_index("ix_observe_traces_agent", "observe_traces", ["agent_name"])


def downgrade() -> None:
    op.drop_table("observe_traces")
