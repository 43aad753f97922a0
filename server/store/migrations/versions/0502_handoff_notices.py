"""messages.author_name, conversations.satisfaction and satisfaction_key: hand-off notices

Revision ID: 0502_handoff_notices
Revises: 0501_agents
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0502_handoff_notices"
down_revision = "0501_agents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("author_name", sa.String(255), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("satisfaction", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("satisfaction_key", sa.String(600), nullable=True))
        batch.create_unique_constraint("uq_conversations_satisfaction_key", ["satisfaction_key"])


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint("uq_conversations_satisfaction_key", type_="unique")
        batch.drop_column("satisfaction_key")
        batch.drop_column("satisfaction")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("author_name")
