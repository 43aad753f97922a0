"""Imports every module that defines tables on ``schema.metadata``.

Areas that add tables define them in their own module with ``from server.store.schema import
metadata`` and list that module here, so migrations and the schema drift test see every table.
"""

from server.crm import cache as crm_cache  # noqa: F401  (flows area: CRM look-up cache)
from server.store import (
    agents,  # noqa: F401  (agents area)
    app_sessions,  # noqa: F401  (app messaging area)
    schema,
    webchat_tables,  # noqa: F401  (web chat area)
)

__all__ = ["schema"]
