"""Settings from the command line and ``THREADLINE_*`` environment variables.

Every setting has a default that needs nothing to start: SQLite under the data directory, the
flows in ``flows/``, an admin token generated on first start.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from server.store.database import sqlite_url

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())


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
    max_text_chars: int = 4096
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
            max_body_bytes=int(os.environ.get("THREADLINE_MAX_BODY_BYTES", 1024 * 1024)),
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
