"""Vector collections: name, dimension, metric and embedder (the points live in the lake).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("embedder", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_collections"),
        sa.UniqueConstraint("uid", name="uq_collections_uid"),
    )


def downgrade() -> None:
    op.drop_table("collections")
