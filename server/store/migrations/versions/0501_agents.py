"""agents, agent frames and routing state

Revision ID: 0501_agents
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0501_agents"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("login", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.JSON(), nullable=True),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.Column("acked_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "agent_frames",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("frame", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "seq"),
    )
    op.create_table(
        "routing_state",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "routing_tasks",
        sa.Column("conversation_id", sa.String(length=34), nullable=False),
        sa.Column("execution_id", sa.String(length=34), nullable=True),
        sa.Column("request_id", sa.String(length=120), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_table(
        "routing_timers",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_routing_timers_due_at"), "routing_timers", ["due_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_routing_timers_due_at"), table_name="routing_timers")
    op.drop_table("routing_timers")
    op.drop_table("routing_tasks")
    op.drop_table("routing_state")
    op.drop_table("agent_frames")
    op.drop_table("agents")
