"""Database engines: SQLite (embedded default, WAL) or PostgreSQL, through SQLAlchemy async."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, StaticPool, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Execution option marking a connection that writes (see _configure_sqlite).
WRITER_OPTION = "threadline_writer"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'threadline.db').resolve()}"


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and pick the async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    url = normalise_url(url)
    kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if make_url(url).get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine.sync_engine)
    return engine


def create_sqlite_writer_engine(url: str) -> Engine:
    """A synchronous engine on the same SQLite file, for the writer process (see writer_child)."""
    engine = create_sync_engine(
        _pysqlite_url(url),
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": 30, "check_same_thread": False},
        poolclass=StaticPool,  # one connection: the writer process runs one batch at a time
    )
    _configure_sqlite(engine, writer=True)
    return engine


def create_sqlite_reader_engine(url: str, threads: int) -> Engine:
    """Synchronous autocommit connections for the reader threads (see sync_reader): with no
    transaction held open, every query sees the latest commit."""
    engine = create_sync_engine(
        _pysqlite_url(url),
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=threads,
        max_overflow=0,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # autocommit: pysqlite opens no transaction
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    return engine


def _pysqlite_url(url: str) -> Any:
    return make_url(normalise_url(url)).set(drivername="sqlite+pysqlite")


def _configure_sqlite(engine: Engine, *, writer: bool = False) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT (which group commit relies on to
    # isolate one request's failure from the others in its batch): take it over, as the
    # SQLAlchemy documentation recommends, and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit reaches the disk before the request that carried it is acknowledged.
        # Group commit makes this affordable (one fsync per batch, not per message).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front (IMMEDIATE), so two writing connections wait for
        # each other through busy_timeout instead of failing when a read lock cannot upgrade.
        immediate = writer or connection.get_execution_options().get(WRITER_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
