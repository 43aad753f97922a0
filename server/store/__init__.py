"""Storage behind one interface: SQLite by default, PostgreSQL when configured."""

from server.store.store import Store

__all__ = ["Store"]
