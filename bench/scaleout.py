"""Scenario 7: two nodes on one PostgreSQL database versus one node on it, same loader.

Each customer's messages always reach the same node, as a load balancer with affinity would send
them: Redis-based coordination between nodes (per-conversation ordering across nodes, pub/sub,
shared timers) is the scale-out work that follows, so this measures what sharing the database
already gives. On a 2-core machine both nodes and the loader share the same cores: the figure is
for trend, not a target.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from bench.common import Figure
from bench.sms_load import threadline_throughput
from server.store.database import create_engine

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


async def _admin(statement: str) -> None:
    engine = create_engine(ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def fresh_database() -> Iterator[str]:
    name = "tl_bench_" + uuid.uuid4().hex[:10]
    asyncio.run(_admin(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_admin(f"DROP DATABASE {name} WITH (FORCE)"))


def run(quick: bool) -> list[Figure]:
    customers = 500 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="tl-bench-scaleout-") as tmp:
        with fresh_database() as url:
            one, _ = threadline_throughput(Path(tmp) / "one", customers, 1, url)
        with fresh_database() as url:
            two, _ = threadline_throughput(Path(tmp) / "two", customers, 2, url)
    return [
        Figure(
            "two_nodes_postgresql_msgs_per_s",
            "msgs/s",
            two,
            baseline=one,
            baseline_label="one node on the same PostgreSQL, same loader",
            target="reported for trend (2 cores shared by both nodes and the loader)",
            details={"messages": 2 * customers, "redis": "not used yet (see the module)"},
        )
    ]
