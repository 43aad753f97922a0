"""Upgrading a database whose unsigned apps stored shared ``app:<user id>`` identities."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import insert, select

from server.store.app_sessions import app_sessions
from server.store.database import create_engine
from server.store.migrate import alembic_config, upgrade
from server.store.schema import contacts, identities

# (contact, identity value, verified, apps whose sessions used it), as an earlier release left them.
LEGACY = [
    ("CTone", "u1", False, ["open_c"]),
    ("CTtwo", "u2", False, ["open_c", "open_d"]),  # one user id in two unsigned apps
    ("CTsigned", "u3", True, ["signed_a"]),
    ("CTorphan", "u4", False, []),  # no session names its app: left as it is
]


def _seed(connection: Any) -> None:
    now = time.time()
    for contact, user_id, verified, apps in LEGACY:
        connection.execute(
            insert(contacts).values(
                id=contact, display_name=None, attributes={}, created_at=now, updated_at=now
            )
        )
        connection.execute(
            insert(identities).values(
                kind="app", value=user_id, contact_id=contact, verified=verified, created_at=now
            )
        )
        for app_id in apps:
            connection.execute(
                insert(app_sessions).values(
                    id=f"AS{app_id}{user_id}",
                    token_hash=f"{app_id}{user_id}".ljust(64, "0"),
                    app_id=app_id,
                    user_id=user_id,
                    contact_id=contact,
                    conversation_id="CVx",
                    device={},
                    read_seq=0,
                    created_at=now,
                    last_seen_at=now,
                )
            )


async def test_unverified_app_identities_become_scoped_to_their_apps(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        async with engine.begin() as conn:
            # The schema an earlier release had: the baseline and the app tables.
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0301_app"))
            await conn.run_sync(_seed)
        await upgrade(engine)
        async with engine.connect() as conn:
            found = {
                (row.kind, row.value, row.contact_id, bool(row.verified))
                for row in await conn.execute(select(identities))
            }
    finally:
        await engine.dispose()
    assert found == {
        ("app_unsigned", "open_c:u1", "CTone", False),
        ("app_unsigned", "open_c:u2", "CTtwo", False),
        ("app_unsigned", "open_d:u2", "CTtwo", False),
        ("app", "u3", "CTsigned", True),
        ("app", "u4", "CTorphan", False),
    }
