"""messages.deleted_at and messages.edits: customers' deleted and edited messages

Revision ID: 0103_message_revisions
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0103_message_revisions"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("deleted_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("edits", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("edits")
        batch.drop_column("deleted_at")
