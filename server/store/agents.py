"""Agent tables: agents and their credentials, each agent's sequenced outbound frames, and the
routing service's durable state (router snapshot, routing tasks, routing timers).

The router itself is sans-IO (``server/routing``); these tables are what lets a restarted process
rebuild it and lets a reconnecting agent receive every frame it had not acknowledged.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.ops import Row
from server.store.schema import ID, metadata

agents = Table(
    "agents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("login", String(255), nullable=False, unique=True),
    Column("password_hash", String(255)),
    # sha256 of the agent's long-lived token: the database never holds a usable token.
    Column("token_hash", String(64), unique=True),
    Column("roles", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("capacity", JSON),
    Column("next_seq", Integer, nullable=False, default=1),
    Column("acked_seq", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Frames sent to an agent, kept until acknowledged so a reconnect replays what was missed.
agent_frames = Table(
    "agent_frames",
    metadata,
    Column("agent_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("frame", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("agent_id", "seq"),
)

# One row: the router's ``to_dict()`` after its last committed event.
routing_state = Table(
    "routing_state",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# A conversation handed to agents: which flow request waits for the outcome, and the context.
routing_tasks = Table(
    "routing_tasks",
    metadata,
    Column("conversation_id", String(ID), primary_key=True),
    Column("execution_id", String(ID)),
    Column("request_id", String(120)),  # cleared once the flow has its outcome
    Column("context", JSON, nullable=False),
    Column("notes", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

routing_timers = Table(
    "routing_timers",
    metadata,
    Column("id", String(160), primary_key=True),
    Column("due_at", Float, nullable=False, index=True),
    Column("created_at", Float, nullable=False),
)

STATE_ROW = "router"


async def next_frame(conn: AsyncConnection, agent_id: str, frame: dict[str, Any]) -> int:
    """Give ``frame`` the agent's next sequence number and keep it until acknowledged."""
    row = (await conn.execute(select(agents.c.next_seq).where(agents.c.id == agent_id))).first()
    seq = int(row.next_seq) if row is not None else 1
    await conn.execute(update(agents).where(agents.c.id == agent_id).values(next_seq=seq + 1))
    await conn.execute(
        insert(agent_frames).values(
            agent_id=agent_id, seq=seq, frame={**frame, "seq": seq}, created_at=time.time()
        )
    )
    return seq


async def acknowledge(conn: AsyncConnection, agent_id: str, seq: int) -> None:
    await conn.execute(
        delete(agent_frames).where(agent_frames.c.agent_id == agent_id, agent_frames.c.seq <= seq)
    )
    await conn.execute(
        update(agents)
        .where(agents.c.id == agent_id, agents.c.acked_seq < seq)
        .values(acked_seq=seq)
    )


async def unacknowledged(conn: AsyncConnection, agent_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(agent_frames.c.frame)
        .where(agent_frames.c.agent_id == agent_id)
        .order_by(agent_frames.c.seq)
    )
    return [dict(row.frame) for row in rows]


async def save_state(conn: AsyncConnection, data: dict[str, Any], now: float) -> None:
    changed = await conn.execute(
        update(routing_state)
        .where(routing_state.c.id == STATE_ROW)
        .values(data=data, updated_at=now)
    )
    if changed.rowcount == 0:
        await conn.execute(insert(routing_state).values(id=STATE_ROW, data=data, updated_at=now))


async def load_state(conn: AsyncConnection) -> dict[str, Any] | None:
    row = (
        await conn.execute(select(routing_state.c.data).where(routing_state.c.id == STATE_ROW))
    ).first()
    return dict(row.data) if row is not None else None


async def start_timer(conn: AsyncConnection, timer_id: str, due_at: float, now: float) -> None:
    await conn.execute(delete(routing_timers).where(routing_timers.c.id == timer_id))
    await conn.execute(insert(routing_timers).values(id=timer_id, due_at=due_at, created_at=now))


async def cancel_timer(conn: AsyncConnection, timer_id: str) -> None:
    await conn.execute(delete(routing_timers).where(routing_timers.c.id == timer_id))


async def agent_by(conn: AsyncConnection, column: str, value: str) -> Row | None:
    row = (await conn.execute(select(agents).where(agents.c[column] == value))).first()
    return row._mapping if row is not None else None


def agent_json(row: Row) -> dict[str, Any]:
    """An agent as the API shows it: never the password or token hash."""
    return {
        "id": row["id"],
        "name": row["name"],
        "login": row["login"],
        "roles": list(row["roles"] or []),
        "attributes": dict(row["attributes"] or {}),
        "capacity": dict(row["capacity"]) if row["capacity"] else None,
        "created_at": row["created_at"],
        "has_token": row["token_hash"] is not None,
    }


__all__ = [
    "agent_frames",
    "agents",
    "routing_state",
    "routing_tasks",
    "routing_timers",
]
