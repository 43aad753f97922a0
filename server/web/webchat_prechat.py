"""The web chat's pre-chat form: whether a visitor still owes it, checking and keeping answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store import Store
from server.store.schema import conversations
from server.web.webchat_config import AccountConfig

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REQUIRED = "required"


def prechat_state(account: AccountConfig, contact: Mapping[Any, Any] | None) -> str:
    """``none`` (no form), ``required`` or ``done`` (one of its fields is in the contact)."""
    if not account.prechat:
        return "none"
    attributes = dict(contact["attributes"] or {}) if contact is not None else {}
    return "done" if any(f.name in attributes for f in account.prechat) else REQUIRED


async def contact_prechat_state(
    store: Store, account: AccountConfig, contact_id: str | None
) -> str:
    """The pre-chat state of a visitor; their contact is read only when a form is configured."""
    if not account.prechat:
        return "none"
    contact = await store.contact(contact_id) if contact_id is not None else None
    return prechat_state(account, contact)


def validate_prechat(
    account: AccountConfig, given: dict[str, str]
) -> tuple[dict[str, str], str | None]:
    """(attributes to store, problem): only configured fields, required ones present."""
    values: dict[str, str] = {}
    for spec in account.prechat:
        value = given.get(spec.name, "").strip()
        if not value:
            if spec.required:
                return {}, f"field '{spec.name}' is required"
            continue
        if spec.type == "email" and not EMAIL.match(value):
            return {}, f"field '{spec.name}' must be an email address"
        if spec.options and value not in spec.options:
            return {}, f"field '{spec.name}' must be one of {', '.join(spec.options)}"
        values[spec.name] = value
    return values, None


async def remember_prechat(store: Store, conversation_id: str, values: dict[str, str]) -> None:
    """This conversation's pre-chat answers, in its context, for the agent who takes it."""

    async def op(conn: AsyncConnection) -> None:
        where = conversations.c.id == conversation_id
        current = (await conn.execute(select(conversations.c.context).where(where))).scalar()
        context = {**(current or {}), "prechat": values}
        await conn.execute(update(conversations).where(where).values(context=context))

    await store.write(op)
