"""The runtime's handler for ``crm.lookup`` effects: pick the connector, use the cache, look up.

Configuration (``THREADLINE_CRM_FILE``, a JSON file or inline JSON)::

    {"default": "crm", "cache_seconds": 300,
     "connectors": {
       "crm": {"type": "rest", "url": "https://crm.example.com/contacts?{by}={value}",
               "headers": {"Authorization": "Bearer ${CRM_TOKEN}"},
               "record": "results.0", "fields": {"name": "properties.firstname"}},
       "sheet": {"type": "csv", "path": "contacts.csv", "columns": {"phone": "Phone"}}}}

The contact store is always there as connector ``contacts`` (and is the default without a file).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from server.crm import cache, keys
from server.crm.connectors import (
    Connector,
    ContactStoreConnector,
    CrmError,
    CsvConnector,
    RestConnector,
    normalise,
)
from server.json_setting import SettingError
from server.runtime.http_client import FlowHttpClient
from server.store import Store

DEFAULT_CACHE_SECONDS = 300.0
CONTACTS = "contacts"


def build_connector(
    name: str, spec: dict[str, Any], store: Store, http: FlowHttpClient, base: Path
) -> Connector:
    kind = spec.get("type")
    if kind == "contacts":
        return ContactStoreConnector(store)
    if kind == "rest":
        if not spec.get("url"):
            raise SettingError(f"CRM connector {name!r}: 'url' is required")
        return RestConnector(
            http,
            str(spec["url"]),
            str(spec.get("method") or "GET").upper(),
            dict(spec.get("headers") or {}),
            str(spec.get("record") or ""),
            dict(spec.get("fields") or {}),
            float(spec.get("timeout") or 5.0),
        )
    if kind == "csv":
        if not spec.get("path"):
            raise SettingError(f"CRM connector {name!r}: 'path' is required")
        path = Path(str(spec["path"]))
        return CsvConnector(
            path if path.is_absolute() else base / path,
            dict(spec.get("columns") or {}),
            dict(spec.get("fields") or {}),
        )
    raise SettingError(f"CRM connector {name!r}: unknown type {kind!r} (contacts, rest, csv)")


class CrmService:
    def __init__(
        self,
        store: Store,
        http: FlowHttpClient,
        config: dict[str, Any] | None = None,
        base: Path | None = None,
    ) -> None:
        config = config or {}
        self.store = store
        self.default = str(config.get("default") or CONTACTS)
        default_ttl = float(config.get("cache_seconds", DEFAULT_CACHE_SECONDS))
        self.connectors: dict[str, Connector] = {CONTACTS: ContactStoreConnector(store)}
        # The contact store needs no cache: it is the store.
        self.cache_seconds: dict[str, float] = {CONTACTS: 0.0}
        for name, spec in (config.get("connectors") or {}).items():
            self.connectors[name] = build_connector(name, spec, store, http, base or Path.cwd())
            self.cache_seconds[name] = float(spec.get("cache_seconds", default_ttl))
        if self.default not in self.connectors:
            raise SettingError(f"the default CRM connector {self.default!r} is not configured")

    async def lookup(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Look the contact up by the payload's ``by``/``value``, or, without a value, by the keys
        the customer's channel knows (``server.crm.keys``): the first one found wins, and the
        answer says which (``by``, ``value``)."""
        name = str(payload.get("connector") or self.default)
        connector = self.connectors.get(name)
        if connector is None:
            raise CrmError(f"no CRM connector {name!r}")
        if str(payload.get("value") or "").strip():
            by = str(payload.get("by") or "phone")
            return await self._lookup(name, connector, by, str(payload["value"]))
        answer: dict[str, Any] = {"found": False, "fields": {}, "connector": name}
        for by, value in await keys.lookup_keys(self.store, payload):
            answer = {**await self._lookup(name, connector, by, value), "by": by, "value": value}
            if answer["found"]:
                break
        return answer

    async def _lookup(self, name: str, connector: Connector, by: str, value: str) -> dict[str, Any]:
        key = f"{by}:{normalise(by, value)}"
        now = time.time()
        ttl = self.cache_seconds.get(name, 0.0)
        hit = await cache.cached(self.store, name, key, ttl, now)
        if hit is not None:
            return {"found": hit[0], "fields": hit[1], "connector": name, "cached": True}
        fields = await connector.lookup(by, value)
        if ttl > 0:
            await cache.remember(self.store, name, key, fields is not None, fields or {}, now)
        return {"found": fields is not None, "fields": fields or {}, "connector": name}
