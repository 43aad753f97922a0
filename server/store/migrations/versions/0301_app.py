"""app messaging: sessions and uploads

Revision ID: 0301_app
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0301_app"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_sessions",
        sa.Column("id", sa.String(length=34), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("contact_id", sa.String(length=34), nullable=False),
        sa.Column("conversation_id", sa.String(length=34), nullable=False),
        sa.Column("device", sa.JSON(), nullable=False),
        sa.Column("push_token", sa.String(length=256), nullable=True),
        sa.Column("read_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("app_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_app_sessions_contact_id"), ["contact_id"], unique=False
        )
    op.create_table(
        "app_uploads",
        sa.Column("id", sa.String(length=34), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("app_uploads")
    with op.batch_alter_table("app_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_sessions_contact_id"))
    op.drop_table("app_sessions")
