"""Agent credentials: argon2 password hashes, short-lived JWTs and long-lived agent tokens.

Roles are cumulative by intent but checked literally: a supervisor frame needs ``supervisor`` or
``admin`` in the token's roles, an agent frame needs any role.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("agent", "supervisor", "admin")
SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})
JWT_ALGORITHM = "HS256"
JWT_LIFETIME = 8 * 3600.0  # one shift
AGENT_TOKEN_PREFIX = "tla_"  # tells a long-lived agent token from a JWT at a glance

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Identity:
    agent_id: str
    roles: tuple[str, ...]

    @property
    def supervisor(self) -> bool:
        return bool(SUPERVISOR_ROLES.intersection(self.roles))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_agent_token() -> str:
    return AGENT_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def jwt_secret(data_dir: Path) -> str:
    """``THREADLINE_JWT_SECRET``, or a secret kept in the data directory (made on first use)."""
    env = os.environ.get("THREADLINE_JWT_SECRET")
    if env:
        return env
    path = data_dir / "jwt-secret"
    if not path.exists():
        try:
            # Owner-readable only: whoever reads it can mint tokens for any agent.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip()


def issue_jwt(secret: str, agent_id: str, roles: list[str], now: float | None = None) -> str:
    issued = now if now is not None else time.time()
    claims = {
        "sub": agent_id,
        "roles": roles,
        "iat": int(issued),
        "exp": int(issued + JWT_LIFETIME),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def read_jwt(secret: str, token: str) -> Identity | None:
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return None
    roles = claims.get("roles")
    if not isinstance(claims.get("sub"), str) or not isinstance(roles, list):
        return None
    return Identity(claims["sub"], tuple(str(r) for r in roles))
