"""Migrations build exactly the schema the code declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from server.store import all_tables
from server.store.database import create_engine
from server.store.migrate import upgrade


async def _diff(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await upgrade(engine)  # a second start finds nothing to do

        def compare(connection: Any) -> list[Any]:
            context = MigrationContext.configure(connection)
            return list(compare_metadata(context, all_tables.schema.metadata))

        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def test_sqlite_schema_matches_the_code(tmp_path: Path) -> None:
    assert await _diff(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}") == []


async def test_postgresql_schema_matches_the_code() -> None:
    admin = create_engine("postgresql://postgres@127.0.0.1:5432/test").execution_options(
        isolation_level="AUTOCOMMIT"
    )
    name = "tl_" + uuid.uuid4().hex[:12]
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        assert await _diff(f"postgresql://postgres@127.0.0.1:5432/{name}") == []
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE {name}"))
        await admin.dispose()
