"""What ``threadline serve`` says once it has started: the default flow, the routing file and the
channels it can answer on, so a new user sees at a glance what runs and from which files.
"""

from __future__ import annotations

from typing import Any

from server.agents_area import routing_file
from server.areas import Services


def listening_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def summary(services: Services) -> list[str]:
    settings = services.settings
    default = services.runtime.flows.latest(settings.default_flow)
    version = f" (version {default.version})" if default is not None else ""
    routing = routing_file(settings)
    return [
        f"default flow: {settings.default_flow}{version}",
        f"routing file: {routing}" if routing else "routing file: none (the router's defaults)",
        "channels: " + "; ".join(channel_lines(services.extras)),
    ]


def channel_lines(extras: dict[str, Any]) -> list[str]:
    """One entry per channel kind with what configures it (accounts, numbers, apps)."""
    lines: list[str] = []
    accounts = extras.get("channel_accounts")
    if accounts is not None:
        for twilio in accounts.twilio:
            numbers = ", ".join(twilio.numbers) or "any number"
            lines.append(f"Twilio SMS/WhatsApp (account {twilio.account_sid}: {numbers})")
        for meta in accounts.whatsapp:
            lines.append(f"WhatsApp Cloud API (phone number id {meta.phone_number_id or 'any'})")
    webchat = extras.get("webchat_config")
    if webchat is not None:
        names = ", ".join(sorted(webchat.accounts)) or "default"
        lines.append(f"web chat (accounts: {names})")
    app_api = extras.get("app_api")
    if app_api is not None:
        apps = ", ".join(sorted(app_api.apps))
        lines.append(f"app messaging (apps: {apps})" if apps else "app messaging (no apps)")
    return lines or ["none"]
