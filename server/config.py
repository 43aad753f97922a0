"""Settings from the command line and ``THREADLINE_*`` environment variables.

Every setting has a default that needs nothing to start: SQLite under the data directory, the
flows in ``flows/``, an admin token generated on first start.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from server.runtime.work_gate import DEFAULT_FLOW_CONCURRENCY
from server.store.database import sqlite_url

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


class ConfigError(ValueError):
    """A THREADLINE_* variable holds a value the server cannot run with."""


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name} must be a whole number of at least {minimum}, not {raw!r}")
    return int(raw)


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())


def _trusted_proxies() -> tuple[str, ...]:
    """``THREADLINE_TRUSTED_PROXIES``; unset: a proxy on this machine (uvicorn's own default),
    set empty: no proxy, the socket's peer is the client."""
    if "THREADLINE_TRUSTED_PROXIES" not in os.environ:
        return ("127.0.0.1",)
    return _env_list("THREADLINE_TRUSTED_PROXIES")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    flows_dir: Path
    database_url: str
    admin_token: str
    admin_token_file: Path | None
    public_url: str | None = None
    default_flow: str = "greeting"
    # Outbound HTTP from flows may not reach private, loopback or link-local addresses unless
    # allowed: flows are edited by designers, and a flow must not become a way into the network.
    http_allow_private: bool = False
    http_allowed_hosts: tuple[str, ...] = ()
    max_body_bytes: int = 1024 * 1024
    # Upload routes are exempt from max_body_bytes and capped by this instead; an app or a web
    # chat account may set a smaller limit of its own (the smaller one applies).
    max_upload_bytes: int = 10 * 1024 * 1024
    max_text_chars: int = 4096
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (IPs or networks; "*": any).
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    # A connection's request line and headers must arrive within this many seconds of the
    # connection opening or of the previous response (slow-drip clients would hold it forever).
    header_timeout_seconds: float = 10.0
    # Conversations whose flow work (steps, their writes) runs at the same time; the rest wait
    # in order behind them, so webhook answers stay fast when the machine is saturated.
    flow_concurrency: int = DEFAULT_FLOW_CONCURRENCY
    # New web chat sessions one client address may open per minute (0: no limit).
    webchat_sessions_per_minute: int = 60
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        *,
        data_dir: Path | str | None = None,
        flows_dir: Path | str | None = None,
    ) -> Settings:
        data = Path(data_dir or os.environ.get("THREADLINE_DATA_DIR") or "data").resolve()
        data.mkdir(parents=True, exist_ok=True)
        flows = Path(
            flows_dir or os.environ.get("THREADLINE_FLOWS_DIR") or REPO_ROOT / "flows"
        ).resolve()
        token, token_file = _admin_token(data)
        return cls(
            data_dir=data,
            flows_dir=flows,
            database_url=os.environ.get("THREADLINE_DATABASE_URL") or sqlite_url(data),
            admin_token=token,
            admin_token_file=token_file,
            public_url=os.environ.get("THREADLINE_PUBLIC_URL") or None,
            default_flow=os.environ.get("THREADLINE_DEFAULT_FLOW", "greeting"),
            http_allow_private=_env_bool("THREADLINE_HTTP_ALLOW_PRIVATE"),
            http_allowed_hosts=_env_list("THREADLINE_HTTP_ALLOWED_HOSTS"),
            max_body_bytes=_env_int("THREADLINE_MAX_BODY_BYTES", 1024 * 1024),
            trusted_proxies=_trusted_proxies(),
            max_upload_bytes=_env_int("THREADLINE_MAX_UPLOAD_BYTES", 10 * 1024 * 1024),
            header_timeout_seconds=_env_seconds("THREADLINE_HEADER_TIMEOUT_SECONDS", 10.0),
            flow_concurrency=_env_int("THREADLINE_FLOW_CONCURRENCY", DEFAULT_FLOW_CONCURRENCY),
            webchat_sessions_per_minute=_env_int(
                "THREADLINE_WEBCHAT_SESSIONS_PER_MINUTE", 60, minimum=0
            ),
        )


def _admin_token(data_dir: Path) -> tuple[str, Path | None]:
    """``THREADLINE_ADMIN_TOKEN``, or the token stored in the data directory (made on first use)."""
    env = os.environ.get("THREADLINE_ADMIN_TOKEN")
    if env:
        return env, None
    path = data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip(), path
    token = secrets.token_urlsafe(32)
    # Created readable by the owner only: the token grants the whole admin API.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token, path
