"""Per channel account web chat configuration: pre-chat form, greeting, uploads, identity secret.

Read from ``THREADLINE_WEBCHAT_CONFIG`` (inline JSON, or the path of a JSON file) or else from
``<data dir>/webchat.json``: ``{"<account>": {...}, "*": {...}}``. The widget may use the listed
accounts and ``default``, nothing else (a channel name is stored with every conversation, so
made-up ones are refused); ``"*"`` is the configuration of ``default`` when it is not listed.
Only the public part (``public_json``) is ever sent to browsers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_UPLOAD_TYPES: tuple[str, ...] = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
)
DEFAULT_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_ACCOUNT = "default"
MAX_ACCOUNT_CHARS = 64
FIELD_TYPES = ("text", "email", "tel", "textarea", "select")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PrechatField:
    name: str
    label: str
    type: str = "text"
    required: bool = False
    options: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
        }
        if self.options:
            data["options"] = list(self.options)
        return data


@dataclass(frozen=True, slots=True)
class AccountConfig:
    title: str = "Chat with us"
    subtitle: str = ""
    greeting: bool = False  # the flow speaks first (incomingRequest) on a new conversation
    welcome: str = ""  # shown in the widget while the chat is empty (not a stored message)
    prechat: tuple[PrechatField, ...] = ()
    identity_secret: str | None = None  # HMAC key of Threadline.identify; never sent out
    require_identity: bool = False
    upload_max_bytes: int = DEFAULT_UPLOAD_MAX_BYTES
    upload_types: tuple[str, ...] = DEFAULT_UPLOAD_TYPES
    allowed_origins: tuple[str, ...] = ()  # empty: any origin may embed the widget
    color: str = "#2f6fed"
    flow: str | None = None  # the flow this account runs (else the server's default flow)

    def public_json(self, account: str, max_upload_bytes: int | None = None) -> dict[str, Any]:
        """``max_upload_bytes``: the server-wide upload cap; the widget is told the smaller of it
        and this account's limit, the one uploads get."""
        upload_max = min(self.upload_max_bytes, max_upload_bytes or self.upload_max_bytes)
        return {
            "channel": account,
            "title": self.title,
            "subtitle": self.subtitle,
            "color": self.color,
            "greeting": self.greeting,
            "welcome": self.welcome,
            "prechat": {"fields": [f.to_json() for f in self.prechat]},
            "identity": {"enabled": self.identity_secret is not None},
            "uploads": {"max_bytes": upload_max, "types": list(self.upload_types)},
        }

    def origin_allowed(self, origin: str | None) -> bool:
        return (
            not self.allowed_origins
            or "*" in self.allowed_origins
            or (origin is not None and origin in self.allowed_origins)
        )


@dataclass(frozen=True)
class WebchatConfig:
    accounts: dict[str, AccountConfig] = field(default_factory=dict)
    fallback: AccountConfig = field(default_factory=AccountConfig)

    def account(self, name: str) -> AccountConfig:
        return self.accounts.get(name, self.fallback)

    def find(self, name: str) -> AccountConfig | None:
        """The configuration of an account the widget may use; None for any other name."""
        if name in self.accounts:
            return self.accounts[name]
        return self.fallback if name == DEFAULT_ACCOUNT else None


def _field(data: Any) -> PrechatField:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise ConfigError("each pre-chat field needs a 'name'")
    kind = str(data.get("type", "text"))
    if kind not in FIELD_TYPES:
        raise ConfigError(f"pre-chat field type {kind!r} is not one of {', '.join(FIELD_TYPES)}")
    return PrechatField(
        name=data["name"],
        label=str(data.get("label") or data["name"].replace("_", " ").capitalize()),
        type=kind,
        required=bool(data.get("required", False)),
        options=tuple(str(o) for o in data.get("options") or ()),
    )


def _account(data: Any) -> AccountConfig:
    if not isinstance(data, dict):
        raise ConfigError("each account's configuration must be a JSON object")
    base = AccountConfig()
    prechat = data.get("prechat") or {}
    fields = prechat.get("fields", []) if isinstance(prechat, dict) else prechat
    secret = data.get("identity_secret")
    if isinstance(secret, dict) and "env" in secret:
        secret = os.environ.get(str(secret["env"]))  # keep secrets out of the JSON file
    return AccountConfig(
        title=str(data.get("title", base.title)),
        subtitle=str(data.get("subtitle", base.subtitle)),
        greeting=bool(data.get("greeting", base.greeting)),
        welcome=str(data.get("welcome", base.welcome)),
        prechat=tuple(_field(f) for f in fields),
        identity_secret=str(secret) if secret else None,
        require_identity=bool(data.get("require_identity", False)),
        upload_max_bytes=int(data.get("upload_max_bytes", base.upload_max_bytes)),
        upload_types=tuple(data.get("upload_types", base.upload_types)),
        allowed_origins=tuple(data.get("allowed_origins", ())),
        color=str(data.get("color", base.color)),
        flow=str(data["flow"]) if data.get("flow") else None,
    )


def parse_config(data: Any) -> WebchatConfig:
    if not isinstance(data, dict):
        raise ConfigError("the web chat configuration must be a JSON object of accounts")
    for name in data:
        if not name or len(name) > MAX_ACCOUNT_CHARS:
            limit = MAX_ACCOUNT_CHARS
            raise ConfigError(f"account name {name[:80]!r} must be 1-{limit} characters")
    accounts = {name: _account(value) for name, value in data.items() if name != "*"}
    fallback = _account(data["*"]) if "*" in data else AccountConfig()
    return WebchatConfig(accounts, fallback)


def load_config(data_dir: Path) -> WebchatConfig:
    raw = os.environ.get("THREADLINE_WEBCHAT_CONFIG", "").strip()
    if raw.startswith("{"):
        return parse_config(json.loads(raw))
    path = Path(raw) if raw else data_dir / "webchat.json"
    if not path.exists():
        if raw:
            raise ConfigError(f"THREADLINE_WEBCHAT_CONFIG names {path}, which does not exist")
        return WebchatConfig()
    return parse_config(json.loads(path.read_text()))
