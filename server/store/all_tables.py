"""Imports every module that defines tables on ``schema.metadata``.

Areas that add tables define them in their own module with ``from server.store.schema import
metadata`` and list that module here, so migrations and the schema drift test see every table.
"""

from server.store import schema

__all__ = ["schema"]
