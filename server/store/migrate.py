"""Bring a database to the newest schema revision; servers call this on start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> None:
    def _run(sync_connection: Any) -> None:
        # "heads": areas add their tables in revisions that branch from the baseline, so
        # concurrent work never fights over one revision chain.
        command.upgrade(alembic_config(sync_connection), "heads")

    async with engine.begin() as conn:
        await conn.run_sync(_run)
