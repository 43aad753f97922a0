"""subflow executions (parent_id) and the CRM look-up cache

Revision ID: 0401_flows
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0401_flows"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.String(length=34), nullable=True))
        batch_op.create_index(batch_op.f("ix_executions_parent_id"), ["parent_id"], unique=False)
    op.create_table(
        "crm_cache",
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("lookup_key", sa.String(length=320), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("connector", "lookup_key"),
    )


def downgrade() -> None:
    op.drop_table("crm_cache")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_executions_parent_id"))
        batch_op.drop_column("parent_id")
