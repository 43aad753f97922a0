"""Alembic environment: runs on the connection ``server.store.migrate`` hands over.

From the command line (``alembic -c server/store/alembic.ini revision --autogenerate``) it uses
the ``sqlalchemy.url`` of the ini file with a synchronous driver.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from server.store.all_tables import schema

metadata = schema.metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
