"""The agents table as the API and the WebSocket use it: create, update, find, authenticate."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.agents import auth
from server.model import new_id
from server.store import Store
from server.store.agents import agent_by, agents
from server.store.ops import Row


class LoginTaken(ValueError):
    pass


class AgentDirectory:
    def __init__(self, store: Store, jwt_secret: str) -> None:
        self.store = store
        self.jwt_secret = jwt_secret

    async def get(self, agent_id: str) -> Row | None:
        async with self.store.engine.connect() as conn:
            return await agent_by(conn, "id", agent_id)

    async def all(self) -> list[Row]:
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(select(agents).order_by(agents.c.created_at))
            return [row._mapping for row in rows]

    async def create(self, fields: dict[str, Any], *, with_token: bool) -> tuple[Row, str]:
        """Store a new agent; returns it and its long-lived token ("" when none was asked)."""
        token = auth.new_agent_token() if with_token else ""
        now = time.time()
        values = {
            "id": fields.get("id") or new_id("AG"),
            "name": fields["name"],
            "login": fields["login"],
            "password_hash": auth.hash_password(fields["password"])
            if fields.get("password")
            else None,
            "token_hash": auth.token_hash(token) if token else None,
            "roles": list(fields.get("roles") or ["agent"]),
            "attributes": dict(fields.get("attributes") or {}),
            "capacity": fields.get("capacity"),
            "next_seq": 1,
            "acked_seq": 0,
            "created_at": now,
            "updated_at": now,
        }

        async def op(conn: AsyncConnection) -> Row:
            if await agent_by(conn, "login", values["login"]) is not None:
                raise LoginTaken(values["login"])
            await conn.execute(insert(agents).values(**values))
            row = await agent_by(conn, "id", values["id"])
            assert row is not None
            return row

        return await self.store.write(op), token

    async def patch(
        self, agent_id: str, fields: dict[str, Any], *, new_token: bool
    ) -> tuple[Row | None, str]:
        token = auth.new_agent_token() if new_token else ""
        values: dict[str, Any] = {
            key: fields[key] for key in ("name", "roles", "attributes", "capacity") if key in fields
        }
        if fields.get("password"):
            values["password_hash"] = auth.hash_password(fields["password"])
        if token:
            values["token_hash"] = auth.token_hash(token)
        values["updated_at"] = time.time()

        async def op(conn: AsyncConnection) -> Row | None:
            await conn.execute(update(agents).where(agents.c.id == agent_id).values(**values))
            return await agent_by(conn, "id", agent_id)

        return await self.store.write(op), token

    async def login(self, login: str, password: str) -> tuple[Row, str] | None:
        async with self.store.engine.connect() as conn:
            row = await agent_by(conn, "login", login)
        if row is None or not auth.verify_password(row["password_hash"], password):
            return None
        return row, auth.issue_jwt(self.jwt_secret, row["id"], list(row["roles"]))

    async def authenticate(self, token: str) -> auth.Identity | None:
        """A JWT from /api/v1/login or an agent's long-lived token."""
        if token.startswith(auth.AGENT_TOKEN_PREFIX):
            async with self.store.engine.connect() as conn:
                row = await agent_by(conn, "token_hash", auth.token_hash(token))
            return auth.Identity(row["id"], tuple(row["roles"])) if row is not None else None
        identity = auth.read_jwt(self.jwt_secret, token)
        if identity is None or await self.get(identity.agent_id) is None:
            return None
        return identity
