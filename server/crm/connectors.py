"""CRM connectors: where ``crm-lookup`` finds a contact's fields.

A connector answers ``lookup(by, value)`` with the record's fields, ``None`` when there is no
such contact, or raises ``CrmError`` when the CRM could not answer (error status, timeout, a body
that is not JSON). Three kinds: ``contacts`` (Threadline's own contact store), ``rest`` (any REST
CRM described by a URL template, a field mapping and headers) and ``csv`` (a file, for small
teams).
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from sqlalchemy import select

from server.engine.effects import HttpRequest
from server.runtime.http_client import MAX_RESPONSE_BYTES, FlowHttpClient
from server.store import Store
from server.store.schema import contacts, identities

# ``user_id`` is a user id an app or the web chat's identify call signed (identity ``app``).
IDENTITY_KINDS = {
    "phone": ("phone", "whatsapp"),
    "email": ("email",),
    "user_id": ("app",),
    "id": ("crm",),
}


class CrmError(Exception):
    pass


class Connector(Protocol):
    async def lookup(self, by: str, value: str) -> dict[str, Any] | None: ...


def normalise(by: str, value: str) -> str:
    """Compare phone numbers by their digits (and +), e-mail addresses case-insensitively."""
    value = value.strip()
    if by == "phone":
        return re.sub(r"[^\d+]", "", value)
    if by == "email":
        return value.lower()
    return value


def dig(data: Any, path: str) -> Any:
    """``results.0.properties.name`` into nested JSON; None where the path runs out."""
    for segment in [s for s in path.split(".") if s]:
        if isinstance(data, dict):
            data = data.get(segment)
        elif isinstance(data, list) and segment.isdigit() and int(segment) < len(data):
            data = data[int(segment)]
        else:
            return None
    return data


@dataclass
class ContactStoreConnector:
    store: Store

    async def lookup(self, by: str, value: str) -> dict[str, Any] | None:
        async with self.store.engine.connect() as conn:
            if by == "id":
                query = select(contacts).where(contacts.c.id == value)
            else:
                kinds = IDENTITY_KINDS.get(by, (by,))
                query = (
                    select(contacts)
                    .join(identities, identities.c.contact_id == contacts.c.id)
                    .where(identities.c.kind.in_(kinds), identities.c.value == value)
                    .limit(1)
                )
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        fields = dict(row.attributes or {})
        if row.display_name:
            fields.setdefault("name", row.display_name)
        return fields


@dataclass
class RestConnector:
    http: FlowHttpClient
    url: str  # with {by} and {value} placeholders
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    record: str = ""  # where the record is in the response ("results.0"); "" is the body
    fields: dict[str, str] = field(default_factory=dict)  # output field -> path in the record
    timeout: float = 5.0

    async def lookup(self, by: str, value: str) -> dict[str, Any] | None:
        url = self.url.replace("{by}", quote(by, safe="")).replace("{value}", quote(value, safe=""))
        # Header values may name environment variables (${CRM_TOKEN}): secrets stay out of files.
        headers = {k: os.path.expandvars(v) for k, v in self.headers.items()}
        headers.setdefault("Accept", "application/json")
        request = HttpRequest("crm", self.method, url, headers, None, None, self.timeout)
        outcome = await self.http.perform(request)
        if not outcome.ok:
            raise CrmError(outcome.error or "CRM request failed")
        if outcome.status_code == 404:
            return None
        if outcome.status_code is None or not 200 <= outcome.status_code < 300:
            raise CrmError(f"CRM answered {outcome.status_code}")
        if outcome.truncated:  # the cut JSON would only fail to parse: say why
            raise CrmError(f"CRM answer is larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB")
        try:
            body = json.loads(outcome.body)
        except ValueError as exc:
            raise CrmError(f"CRM answered with a body that is not JSON: {exc}") from exc
        record = dig(body, self.record)
        if not record or not isinstance(record, dict):
            return None
        if not self.fields:
            return {k: v for k, v in record.items() if not isinstance(v, dict | list)}
        return {name: dig(record, path) for name, path in self.fields.items()}


@dataclass
class CsvConnector:
    path: Path
    columns: dict[str, str] = field(default_factory=dict)  # by -> column name
    fields: dict[str, str] = field(default_factory=dict)  # output field -> column; {} is all
    _rows: list[dict[str, str]] = field(default_factory=list)
    _mtime: float = -1.0

    def _load(self) -> list[dict[str, str]]:
        try:
            mtime = self.path.stat().st_mtime
            if mtime != self._mtime:
                with self.path.open(newline="", encoding="utf-8-sig") as handle:
                    self._rows = list(csv.DictReader(handle))
                self._mtime = mtime
        except (OSError, csv.Error, UnicodeDecodeError) as exc:
            raise CrmError(f"cannot read {self.path}: {exc}") from exc
        return self._rows

    async def lookup(self, by: str, value: str) -> dict[str, Any] | None:
        column = self.columns.get(by, by)
        wanted = normalise(by, value)
        for row in self._load():
            if normalise(by, row.get(column) or "") == wanted:
                if not self.fields:
                    return dict(row)
                return {name: row.get(col) for name, col in self.fields.items()}
        return None
