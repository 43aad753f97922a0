"""Web chat session tokens that the server can issue without storing anything.

A token names its visitor, channel account and signed-in user (None for anonymous visitors) and
is an HS256 JWT, so the server tells a token it issued from a made-up one without a database
row: a socket that never writes stores nothing, and its token still brings the same visitor back.
Rows are stored (keyed by the token's sha256, as before) on the visitor's first message or
pre-chat answer. Tokens of earlier releases are random strings, known by their rows alone.

The key is derived from the server's secret (``THREADLINE_JWT_SECRET``, else
``DATA_DIR/jwt-secret``), so every node of a cluster that shares that secret accepts the tokens
of the others, and a web chat token is never a valid agent token (another key, other claims).
"""

from __future__ import annotations

import hashlib
import hmac

import jwt

from server.store.sessions import SignedVisitor

ALGORITHM = "HS256"
TOKEN_TYPE = "webchat"
KEY_PURPOSE = b"threadline web chat session tokens"


class SessionTokens:
    def __init__(self, server_secret: str) -> None:
        self._key = hmac.new(server_secret.encode(), KEY_PURPOSE, hashlib.sha256).digest()

    def issue(self, visitor_id: str, account: str, user_id: str | None) -> str:
        claims = {"typ": TOKEN_TYPE, "vid": visitor_id, "acc": account, "uid": user_id}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def read(self, token: str) -> SignedVisitor | None:
        """What a token this server issued names; None for anything else."""
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM])
        except jwt.PyJWTError:
            return None
        visitor, account, user = claims.get("vid"), claims.get("acc"), claims.get("uid")
        if claims.get("typ") != TOKEN_TYPE or not isinstance(visitor, str):
            return None
        if not isinstance(account, str) or not (user is None or isinstance(user, str)):
            return None
        return SignedVisitor(visitor, account, user)
