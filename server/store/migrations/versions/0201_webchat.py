"""web chat: signed-in users and read receipts

Revision ID: 0201_webchat
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0201_webchat"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webchat_users",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("channel_account", sa.String(length=255), nullable=False),
        sa.Column("visitor_id", sa.String(length=34), nullable=False),
        sa.Column("linked_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(op.f("ix_webchat_users_user_id"), "webchat_users", ["user_id"], unique=False)
    op.create_table(
        "webchat_reads",
        sa.Column("conversation_id", sa.String(length=34), nullable=False),
        sa.Column("reader", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "reader"),
    )


def downgrade() -> None:
    op.drop_table("webchat_reads")
    op.drop_index(op.f("ix_webchat_users_user_id"), table_name="webchat_users")
    op.drop_table("webchat_users")
