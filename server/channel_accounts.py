"""Phone-number channel accounts (Twilio and WhatsApp Cloud API) and the flows they run.

One JSON file (``THREADLINE_CHANNELS_FILE``, else ``DATA_DIR/channels.json`` when it exists)
lists every account, its secrets and which flow each number runs (format: docs/channels.md).
Without the file, ``THREADLINE_TWILIO_*`` / ``THREADLINE_WHATSAPP_*`` variables describe a single
account of each kind whose numbers all run the default flow.

Secrets are kept out of ``repr`` so that logging an account never prints them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from channels.twilio import normalise_address
from channels.whatsapp import DEFAULT_GRAPH_BASE

CHANNELS_FILE_ENV = "THREADLINE_CHANNELS_FILE"
DEFAULT_FILE_NAME = "channels.json"


class ChannelConfigError(ValueError):
    """The channels file is unreadable or a field has the wrong shape (the message names it)."""


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str = field(repr=False)
    api_base: str | None = None
    # Business number (``+1...`` or ``whatsapp:+1...``, E.164) -> flow name (None: default flow).
    numbers: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class WhatsAppAccount:
    """One WhatsApp Cloud API phone-number id (``None`` id: every id, from the environment)."""

    phone_number_id: str | None
    access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    graph_base: str = DEFAULT_GRAPH_BASE
    flow: str | None = None


@dataclass(frozen=True)
class ChannelAccounts:
    public_url: str | None = None
    twilio: tuple[TwilioAccount, ...] = ()
    whatsapp: tuple[WhatsAppAccount, ...] = ()

    def twilio_by_sid(self, account_sid: str) -> TwilioAccount | None:
        return next((a for a in self.twilio if a.account_sid == account_sid), None)

    def twilio_for_number(self, number: str) -> TwilioAccount | None:
        """The account that owns a business number; the only account when there is one."""
        for account in self.twilio:
            if number in account.numbers:
                return account
        return self.twilio[0] if len(self.twilio) == 1 else None

    def whatsapp_for(self, phone_number_id: str) -> WhatsAppAccount | None:
        for account in self.whatsapp:
            if account.phone_number_id == phone_number_id:
                return account
        wildcard = [a for a in self.whatsapp if a.phone_number_id is None]
        if wildcard:
            return wildcard[0]
        return self.whatsapp[0] if len(self.whatsapp) == 1 else None

    def account_flows(self) -> dict[tuple[str, str], str]:
        """(channel, channel account) -> flow name, as ``Runtime.account_flows`` wants it."""
        flows: dict[tuple[str, str], str] = {}
        for twilio in self.twilio:
            for number, flow in twilio.numbers.items():
                if flow:
                    channel = "whatsapp" if number.startswith("whatsapp:") else "sms"
                    flows[(channel, number)] = flow
        for meta in self.whatsapp:
            if meta.flow and meta.phone_number_id:
                flows[("whatsapp", meta.phone_number_id)] = meta.flow
        return flows


def load_channel_accounts(
    data_dir: Path, public_url: str | None, environ: Mapping[str, str] | None = None
) -> ChannelAccounts:
    """The accounts from the channels file when there is one, else from the environment."""
    env = os.environ if environ is None else environ
    configured = env.get(CHANNELS_FILE_ENV)
    path = Path(configured) if configured else data_dir / DEFAULT_FILE_NAME
    if configured or path.exists():
        return accounts_from_file(path, public_url)
    return accounts_from_env(env, public_url)


def accounts_from_env(env: Mapping[str, str], public_url: str | None) -> ChannelAccounts:
    twilio: list[TwilioAccount] = []
    sid = env.get("THREADLINE_TWILIO_ACCOUNT_SID")
    token = env.get("THREADLINE_TWILIO_AUTH_TOKEN")
    if sid and token:
        twilio.append(TwilioAccount(sid, token, env.get("THREADLINE_TWILIO_API_BASE") or None))
    whatsapp: list[WhatsAppAccount] = []
    access = env.get("THREADLINE_WHATSAPP_ACCESS_TOKEN", "")
    secret = env.get("THREADLINE_WHATSAPP_APP_SECRET", "")
    verify = env.get("THREADLINE_WHATSAPP_VERIFY_TOKEN", "")
    if access or secret or verify:
        graph = env.get("THREADLINE_WHATSAPP_GRAPH_BASE") or DEFAULT_GRAPH_BASE
        whatsapp.append(WhatsAppAccount(None, access, secret, verify, graph))
    return ChannelAccounts(public_url, tuple(twilio), tuple(whatsapp))


def accounts_from_file(path: Path, public_url: str | None) -> ChannelAccounts:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ChannelConfigError(f"cannot read channels file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ChannelConfigError(f"{path}: the top level must be a JSON object")
    twilio = tuple(_twilio(item, f"{path}: twilio[{i}]") for i, item in _items(data, "twilio"))
    meta = tuple(_whatsapp(item, f"{path}: whatsapp[{i}]") for i, item in _items(data, "whatsapp"))
    file_url = _optional(data, "public_url", str(path))
    # The environment wins so that one file can serve several deployments.
    return ChannelAccounts(public_url or file_url, twilio, meta)


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ChannelConfigError(f"'{key}' must be a list of objects")
    return list(enumerate(items))


def _required(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ChannelConfigError(f"{where}: '{key}' is required and must be a string")
    return value


def _optional(item: dict[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ChannelConfigError(f"{where}: '{key}' must be a string")
    return value or None


def _twilio(item: dict[str, Any], where: str) -> TwilioAccount:
    numbers = item.get("numbers") or {}
    if isinstance(numbers, list):  # a plain list of numbers: all run the default flow
        numbers = dict.fromkeys(numbers)
    if not isinstance(numbers, dict):
        raise ChannelConfigError(f"{where}: 'numbers' must be an object or a list")
    return TwilioAccount(
        account_sid=_required(item, "account_sid", where),
        auth_token=_required(item, "auth_token", where),
        api_base=_optional(item, "api_base", where),
        numbers={normalise_address(str(n)): (str(f) if f else None) for n, f in numbers.items()},
    )


def _whatsapp(item: dict[str, Any], where: str) -> WhatsAppAccount:
    return WhatsAppAccount(
        phone_number_id=_required(item, "phone_number_id", where),
        access_token=_required(item, "access_token", where),
        app_secret=_required(item, "app_secret", where),
        verify_token=_optional(item, "verify_token", where) or "",
        graph_base=_optional(item, "graph_base", where) or DEFAULT_GRAPH_BASE,
        flow=_optional(item, "flow", where),
    )
