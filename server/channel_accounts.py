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
    # Messaging Services (MG...): replies from a number go through its own service, else the
    # account's; Twilio then picks the sender from the service's pool (sticky sender).
    number_services: dict[str, str] = field(default_factory=dict)
    messaging_service_sid: str | None = None

    def messaging_service_for(self, number: str) -> str | None:
        return self.number_services.get(number) or self.messaging_service_sid


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
        """The account that lists a business number; else the only account with a Messaging
        Service (a number of its pool need not be listed); else the only account."""
        for account in self.twilio:
            if number in account.numbers:
                return account
        pooled = [a for a in self.twilio if a.messaging_service_sid]
        if len(pooled) == 1:
            return pooled[0]
        return self.twilio[0] if len(self.twilio) == 1 else None

    def whatsapp_for(self, phone_number_id: str) -> WhatsAppAccount | None:
        """The account configured for a phone-number id, else the environment's account that
        serves every id; None for an id nobody configured (its traffic is not ours to store or
        answer, even when one of our app secrets signed it)."""
        for account in self.whatsapp:
            if account.phone_number_id == phone_number_id:
                return account
        return next((a for a in self.whatsapp if a.phone_number_id is None), None)

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
        twilio.append(
            TwilioAccount(
                sid,
                token,
                env.get("THREADLINE_TWILIO_API_BASE") or None,
                messaging_service_sid=_service_sid(
                    env.get("THREADLINE_TWILIO_MESSAGING_SERVICE_SID"),
                    "THREADLINE_TWILIO_MESSAGING_SERVICE_SID",
                ),
            )
        )
    whatsapp: list[WhatsAppAccount] = []
    access = env.get("THREADLINE_WHATSAPP_ACCESS_TOKEN", "")
    secret = env.get("THREADLINE_WHATSAPP_APP_SECRET", "")
    verify = env.get("THREADLINE_WHATSAPP_VERIFY_TOKEN", "")
    if access or secret or verify:
        graph = env.get("THREADLINE_WHATSAPP_GRAPH_BASE") or DEFAULT_GRAPH_BASE
        # Without THREADLINE_WHATSAPP_PHONE_NUMBER_ID the account serves every id its app
        # receives; with it (comma-separated ids), only those.
        listed = env.get("THREADLINE_WHATSAPP_PHONE_NUMBER_ID", "").split(",")
        ids: list[str | None] = [i.strip() for i in listed if i.strip()]
        for phone_number_id in ids or [None]:
            whatsapp.append(WhatsAppAccount(phone_number_id, access, secret, verify, graph))
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
    flows: dict[str, str | None] = {}
    services: dict[str, str] = {}
    for raw, value in numbers.items():
        number = normalise_address(str(raw))
        if isinstance(value, dict):  # {"flow": ..., "messaging_service_sid": ...}
            here = f"{where}: numbers[{raw!r}]"
            flows[number] = _optional(value, "flow", here)
            service = _service_sid(_optional(value, "messaging_service_sid", here), here)
            if service:
                services[number] = service
        else:
            flows[number] = str(value) if value else None
    return TwilioAccount(
        account_sid=_required(item, "account_sid", where),
        auth_token=_required(item, "auth_token", where),
        api_base=_optional(item, "api_base", where),
        numbers=flows,
        number_services=services,
        messaging_service_sid=_service_sid(_optional(item, "messaging_service_sid", where), where),
    )


def _service_sid(value: str | None, where: str) -> str | None:
    """A Messaging Service SID, checked here so a typo fails at start, not at the first send."""
    if value is None:
        return None
    if not (value.startswith("MG") and len(value) == 34 and value[2:].isalnum()):
        raise ChannelConfigError(f"{where}: 'messaging_service_sid' must be MG + 32 characters")
    return value


def _whatsapp(item: dict[str, Any], where: str) -> WhatsAppAccount:
    return WhatsAppAccount(
        phone_number_id=_required(item, "phone_number_id", where),
        access_token=_required(item, "access_token", where),
        app_secret=_required(item, "app_secret", where),
        verify_token=_optional(item, "verify_token", where) or "",
        graph_base=_optional(item, "graph_base", where) or DEFAULT_GRAPH_BASE,
        flow=_optional(item, "flow", where),
    )
